use matgrad::{gradient, jacobian};
use matgrad::nalgebra::DVector;

#[gradient(wrt = p, argmin = "Fit")]
fn loss(p: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (p - y).norm_squared()
}

#[jacobian(wrt = p, least_squares = fits::Exp, argmin)]
fn residuals(p: &DVector<f64>, y: &DVector<f64>) -> DVector<f64> {
    p - y
}

fn main() {}
