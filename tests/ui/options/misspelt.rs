use matgrad::nalgebra::{DMatrix, DVector};
use matgrad::{gradient, jacobian};

// A misspelt `wrt`: one error, which names `wrt`; the variable is still read, so that the call
// of `f_grad` in `main` reports nothing more.
#[gradient(wtr = w)]
fn f(w: &DVector<f64>) -> f64 {
    w.norm_squared()
}

#[gradient(wrt = w, hesian)]
fn g(w: &DVector<f64>) -> f64 {
    w.norm_squared()
}

#[jacobian(wrt = x, layuot = blocks)]
fn h(a: &DMatrix<f64>, x: &DVector<f64>) -> DVector<f64> {
    a * x
}

#[jacobian(wrt = x, layout = block)]
fn k(a: &DMatrix<f64>, x: &DVector<f64>) -> DVector<f64> {
    a * x
}

fn main() {
    let w = DVector::zeros(2);
    let _ = f_grad(&w);
    let _ = g_grad(&w);
    let a = DMatrix::zeros(2, 2);
    let _ = h_jacobian(&a, &w);
    let _ = k_jacobian(&a, &w);
}
