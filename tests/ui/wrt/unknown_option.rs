use matgrad::gradient;
use matgrad::nalgebra::DVector;

#[gradient(wrt = w, order = 2)]
fn f(w: &DVector<f64>) -> f64 {
    w.norm_squared()
}

fn main() {
    // The gradient functions exist despite the error, so this reports nothing more.
    let w = DVector::zeros(2);
    let _ = f_grad(&w);
}
