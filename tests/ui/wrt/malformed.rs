use matgrad::gradient;
use matgrad::nalgebra::DVector;

#[gradient(wrt = 3)]
fn f(w: &DVector<f64>) -> f64 {
    w.norm_squared()
}

#[gradient(wrt)]
fn g(w: &DVector<f64>) -> f64 {
    w.norm_squared()
}

fn main() {}
