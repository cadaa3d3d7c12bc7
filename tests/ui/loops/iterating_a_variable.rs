use matgrad::gradient;
use matgrad::nalgebra::DVector;

// The loop iterates over the variable's entries.
#[gradient(wrt = w)]
fn total(w: &DVector<f64>) -> f64 {
    let mut s = 0.0;
    for v in w.iter() {
        s += v * v;
    }
    s
}

fn main() {}
