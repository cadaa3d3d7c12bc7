use matgrad::gradient;
use matgrad::nalgebra::DVector;

#[gradient(wrt = s)]
fn f(w: &DVector<f64>, s: f64) -> f64 {
    w.norm() % s
}

fn main() {}
