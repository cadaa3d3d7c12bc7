use matgrad::gradient;
use matgrad::nalgebra::DVector;

// A counter updated in place, read by the body's constants.
#[gradient(wrt = w)]
fn strided(w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let mut s = 0.0;
    let mut k = 0;
    for _ in 0..3 {
        s += w[0] * y[k];
        k += 2;
    }
    s
}

fn main() {}
