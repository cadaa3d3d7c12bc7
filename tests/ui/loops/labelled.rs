use matgrad::gradient;
use matgrad::nalgebra::DVector;

#[gradient(wrt = w)]
fn labelled(w: &DVector<f64>) -> f64 {
    let mut x = w.clone();
    'outer: for _ in 0..3 {
        x = &x * 0.5;
    }
    x.norm_squared()
}

fn main() {}
