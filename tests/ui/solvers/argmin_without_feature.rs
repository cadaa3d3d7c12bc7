// matgrad's own tests build without the feature `argmin`: the adapter is one error, at the option.
use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

#[gradient(wrt = w, argmin = LinearFit)]
fn least_squares(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (x * w - y).norm_squared()
}

fn main() {
    // The gradient functions are still generated.
    let (x, w, y) = (DMatrix::zeros(2, 2), DVector::zeros(2), DVector::zeros(2));
    let _ = least_squares_grad(&x, &w, &y);
}
