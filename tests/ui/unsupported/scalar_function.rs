use matgrad::gradient;
use matgrad::nalgebra::DVector;

#[gradient(wrt = w)]
fn f(w: &DVector<f64>) -> f64 {
    w.map(|v| v.atan()).sum() + w.norm().cbrt()
}

fn main() {}
