use matgrad::gradient;
use matgrad::nalgebra::DVector;

// The carried value changes kind: a vector becomes a scalar.
#[gradient(wrt = w)]
fn shrink(w: &DVector<f64>) -> f64 {
    let mut x = w.clone();
    for _ in 0..3 {
        x = x.norm_squared();
    }
    x
}

fn main() {}
