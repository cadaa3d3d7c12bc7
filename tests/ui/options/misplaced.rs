use matgrad::nalgebra::{DMatrix, DVector};
use matgrad::{gradient, jacobian};

// `hessian` is for scalar functions under #[gradient].
#[jacobian(wrt = x, hessian)]
fn residuals(a: &DMatrix<f64>, x: &DVector<f64>) -> DVector<f64> {
    a * x
}

// A gradient has the shape of its variable: there is no layout to choose.
#[gradient(wrt = x, layout = denominator)]
fn loss(a: &DMatrix<f64>, x: &DVector<f64>) -> f64 {
    (a * x).norm_squared()
}

#[jacobian(wrt = x, layout = sideways)]
fn other(a: &DMatrix<f64>, x: &DVector<f64>) -> DVector<f64> {
    a * x
}

#[gradient(wrt = x, hessian = true)]
fn valued(x: &DVector<f64>) -> f64 {
    x.norm_squared()
}

fn main() {}
