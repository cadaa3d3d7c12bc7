use matgrad::gradient;
use matgrad::nalgebra::DVector;

#[gradient(wrt = w, wrt = v)]
fn f(w: &DVector<f64>, v: &DVector<f64>) -> f64 {
    w.dot(v)
}

#[gradient(wrt = (w, w))]
fn g(w: &DVector<f64>) -> f64 {
    w.norm_squared()
}

fn main() {}
