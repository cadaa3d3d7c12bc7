use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

#[gradient(wrt = w)]
fn residuals(x: &DMatrix<f64>, w: &DVector<f64>) -> DVector<f64> {
    x * w
}

fn main() {}
