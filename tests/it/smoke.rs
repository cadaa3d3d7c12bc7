use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

use crate::support::*;

#[gradient(wrt = w)]
pub fn least_squares(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (x * w - y).norm_squared()
}

#[test]
fn least_squares_matches_closed_form_and_fd() {
    let mut r = rng(1);
    let (x, w, y) = (mat(&mut r, 7, 3), vec(&mut r, 3), vec(&mut r, 7));
    let g = least_squares_grad(&x, &w, &y);
    assert_close(&g, &(2.0 * x.transpose() * (&x * &w - &y)), 1e-12);
    assert_close(&g, &fd(&w, |w| least_squares(&x, w, &y)), 1e-6);
    let (v, g2) = least_squares_value_and_grad(&x, &w, &y);
    assert_close_scalar(v, least_squares(&x, &w, &y), 1e-14);
    assert_close(&g2, &g, 1e-14);
    println!("{LEAST_SQUARES_GRAD_FORMULA}");
}
