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

// ---- stable scalar forms (issue 9.3) -------------------------------------------------------

/// Stable softplus and ReLU: max(v, 0) + ln(1 + e^−|v|).
#[gradient(wrt = w)]
fn softplus_relu(x: &DMatrix<f64>, w: &DVector<f64>) -> f64 {
    (x * w).map(|v| v.max(0.0) + (-v.abs()).exp().ln_1p()).sum() + (x * w).map(|v| v.max(0.0)).sum()
}

#[test]
fn relu_and_stable_softplus() {
    let mut r = rng(51);
    let (x, w) = (mat(&mut r, 6, 3), vec(&mut r, 3));
    let z = &x * &w;
    let sigma = z.map(|v| 1.0 / (1.0 + (-v).exp()));
    let relu_grad = z.map(|v| if v > 0.0 { 1.0 } else { 0.0 });
    let want = x.transpose() * (sigma + relu_grad);
    assert_close(&softplus_relu_grad(&x, &w), &want, 1e-12);
    assert_close(
        &softplus_relu_grad(&x, &w),
        &fd(&w, |w| softplus_relu(&x, w)),
        1e-6,
    );
}

/// exp_m1, log10, log2, signum (derivative 0) and min with a constant.
#[gradient(wrt = x)]
fn more_scalar_functions(x: &DVector<f64>) -> f64 {
    x.map(|v| {
        v.exp_m1() + (v * v + 1.0).log10() + (v * v + 2.0).log2() + v.signum() * 3.0 + v.min(0.25)
    })
    .sum()
}

#[test]
fn exp_m1_logs_signum_min() {
    let x = DVector::from_vec(vec![-0.7, 0.1, 0.9, 1.3]);
    let want = x.map(|v: f64| {
        v.exp()
            + 2.0 * v / ((v * v + 1.0) * std::f64::consts::LN_10)
            + 2.0 * v / ((v * v + 2.0) * std::f64::consts::LN_2)
            + if v < 0.25 { 1.0 } else { 0.0 }
    });
    assert_close(&more_scalar_functions_grad(&x), &want, 1e-12);
    assert_close(
        &more_scalar_functions_grad(&x),
        &fd(&x, more_scalar_functions),
        1e-6,
    );
    // The value keeps Rust's signum (1 at +0), as the original does.
    assert_eq!(
        more_scalar_functions_value_and_grad(&x).0,
        more_scalar_functions(&x)
    );
}

/// The logistic loss stays finite where e^z overflows: its derivative is σ(z).
#[gradient(wrt = w)]
fn logistic(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let z = x * w;
    z.map(|v| v.exp().ln_1p()).sum() - y.dot(&z)
}

#[test]
fn logistic_gradient_is_finite_for_huge_logits() {
    let x = DMatrix::from_row_slice(2, 1, &[800.0, -800.0]);
    let (w, y) = (
        DVector::from_vec(vec![1.0]),
        DVector::from_vec(vec![1.0, 0.0]),
    );
    let g = logistic_grad(&x, &w, &y);
    // σ(800) = 1, σ(−800) = 0: ∂f/∂w = 800 (1 − 1) − 800 (0 − 0) = 0.
    assert!(g.iter().all(|v| v.is_finite()), "{g}");
    assert_close(&g, &DVector::from_vec(vec![0.0]), 1e-12);
    assert!(
        LOGISTIC_GRAD_FORMULA.contains("σ(x w)"),
        "{LOGISTIC_GRAD_FORMULA}"
    );
    let _ = logistic(&x, &w, &y);
}

/// Products with a transposed matrix large enough for the strided-view path (every size > 5).
#[gradient(wrt = (u, v))]
fn factorization(y: &DMatrix<f64>, u: &DMatrix<f64>, v: &DMatrix<f64>) -> f64 {
    (y - u * v.transpose()).norm_squared()
}

#[test]
fn transposed_products_of_larger_matrices() {
    let mut r = rng(52);
    for (m, n, k) in [(9, 8, 7), (3, 2, 2), (12, 6, 6)] {
        let (y, u, v) = (mat(&mut r, m, n), mat(&mut r, m, k), mat(&mut r, n, k));
        let res = &y - &u * v.transpose();
        let (gu, gv) = factorization_grad(&y, &u, &v);
        assert_close(&gu, &(-2.0 * &res * &v), 1e-12);
        assert_close(&gv, &(-2.0 * res.transpose() * &u), 1e-12);
        assert_close(&gv, &fd(&v, |v| factorization(&y, &u, v)), 1e-6);
    }
}

/// Mean squared error with `.mean()`: ∂/∂w = 2 Xᵀ(Xw − y) / n.
#[gradient(wrt = w)]
fn mean_squared_error(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (x * w - y).map(|v| v * v).mean()
}

#[test]
fn mean_of_entries() {
    let mut r = rng(53);
    let (x, w, y) = (mat(&mut r, 7, 3), vec(&mut r, 3), vec(&mut r, 7));
    let want = 2.0 * x.transpose() * (&x * &w - &y) / 7.0;
    assert_close(&mean_squared_error_grad(&x, &w, &y), &want, 1e-12);
    assert_close(
        &mean_squared_error_grad(&x, &w, &y),
        &fd(&w, |w| mean_squared_error(&x, w, &y)),
        1e-6,
    );
    assert_close_scalar(
        mean_squared_error_value_and_grad(&x, &w, &y).0,
        mean_squared_error(&x, &w, &y),
        1e-14,
    );
    assert_eq!(MEAN_SQUARED_ERROR_GRAD_FORMULA, "∂f/∂w = 2 xᵀ(x w − y) / n");
}
