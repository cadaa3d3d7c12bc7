use matgrad::gradient;
use matgrad::nalgebra::DVector;

#[gradient]
fn f(w: &DVector<f64>) -> f64 {
    w.norm_squared()
}

fn main() {
    let w = DVector::zeros(2);
    let _ = f(&w);
}
