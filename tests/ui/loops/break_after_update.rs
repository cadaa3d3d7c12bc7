use matgrad::gradient;
use matgrad::nalgebra::DVector;

// A `break` after the body changed a carried value.
#[gradient(wrt = w)]
fn early(w: &DVector<f64>, stop: usize) -> f64 {
    let mut x = w.clone();
    for i in 0..100 {
        x = &x * 0.5;
        if i == stop {
            break;
        }
    }
    x.norm_squared()
}

fn main() {}
