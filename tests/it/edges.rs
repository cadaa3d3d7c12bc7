//! Issue 3.6: numerical edges. The generated functions fail where the original fails, and
//! non-finite inputs show in the gradient instead of being hidden.

use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

use crate::support::*;

#[gradient(wrt = x)]
fn a_inv_b(a: &DVector<f64>, x: &DMatrix<f64>, b: &DVector<f64>) -> f64 {
    (a.transpose() * x.clone().try_inverse().unwrap() * b)[(0, 0)]
}

#[test]
#[should_panic(expected = "a_inv_b_grad: cannot invert `x`: the matrix is singular")]
fn singular_inverse_panics_naming_the_operation() {
    let singular = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 4.0]);
    let (a, b) = (
        DVector::from_vec(vec![1.0, 0.0]),
        DVector::from_vec(vec![0.0, 1.0]),
    );
    // The original panics too (its `unwrap`); the gradient says which inversion failed.
    assert!(std::panic::catch_unwind(|| a_inv_b(&a, &singular, &b)).is_err());
    let _ = a_inv_b_grad(&a, &singular, &b);
}

#[gradient(wrt = w)]
fn least_squares(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (x * w - y).norm_squared()
}

#[test]
fn nan_and_infinity_propagate() {
    let mut r = rng(50);
    let (mut x, w, y) = (mat(&mut r, 4, 3), vec(&mut r, 3), vec(&mut r, 4));
    x[(2, 1)] = f64::NAN;
    let (v, g) = least_squares_value_and_grad(&x, &w, &y);
    assert!(v.is_nan() && least_squares(&x, &w, &y).is_nan());
    assert!(
        g.iter().all(|e| e.is_nan()),
        "every entry depends on the NaN residual: {g}"
    );
    x[(2, 1)] = f64::INFINITY;
    let g = least_squares_grad(&x, &w, &y);
    assert!(g.iter().any(|e| !e.is_finite()), "{g}");
    let mut w_inf = w.clone();
    w_inf[0] = f64::INFINITY;
    assert!(least_squares_grad(&mat(&mut r, 4, 3), &w_inf, &y)
        .iter()
        .any(|e| !e.is_finite()));
}

#[gradient(wrt = x)]
fn log_det(x: &DMatrix<f64>) -> f64 {
    x.determinant().ln()
}

#[test]
fn log_of_a_negative_determinant_is_nan_like_the_original() {
    let x = DMatrix::from_row_slice(2, 2, &[0.0, 1.0, 1.0, 0.0]); // det = −1
    let (v, g) = log_det_value_and_grad(&x);
    assert!(v.is_nan() && log_det(&x).is_nan());
    // d ln det X = tr(X⁻¹ dX) is finite wherever X is invertible, whatever the sign of det X.
    assert_close(&g, &x.clone().try_inverse().unwrap().transpose(), 1e-15);
}

#[gradient(wrt = x)]
fn determinant(x: &DMatrix<f64>) -> f64 {
    x.determinant()
}

#[test]
fn determinant_at_a_singular_matrix_does_not_panic() {
    let singular = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 4.0]);
    assert_eq!(determinant(&singular), 0.0);
    // det(A) A⁻ᵀ needs an inverse the function never formed; at a singular matrix it is NaN
    // (documented) instead of a panic the original function would not have.
    let (v, g) = determinant_value_and_grad(&singular);
    assert_eq!(v, 0.0);
    assert!(g.iter().all(|e| e.is_nan()));
    let x = DMatrix::from_row_slice(2, 2, &[3.0, 1.0, 2.0, 4.0]);
    assert_close(&determinant_grad(&x), &fd(&x, determinant), 1e-6);
}
