use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

#[gradient(wrt = z)]
fn least_squares(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (x * w - y).norm_squared()
}

fn main() {}
