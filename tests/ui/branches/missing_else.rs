use matgrad::gradient;
use matgrad::nalgebra::DVector;

#[gradient(wrt = w)]
fn f(w: &DVector<f64>) -> f64 {
    let mut s = w.norm();
    if w[0] > 0.0 {
        s = w.sum()
    }
    s
}

#[gradient(wrt = w)]
fn g(w: &DVector<f64>) -> f64 {
    w.map(|v| if v > 0.0 { v }).sum()
}

fn main() {}
