use matgrad::gradient;
use matgrad::nalgebra::DVector;

fn loss(r: &DVector<f64>) -> f64 {
    r.norm_squared()
}

#[gradient(wrt = w)]
fn f(w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    loss(&(w - y))
}

fn main() {}
