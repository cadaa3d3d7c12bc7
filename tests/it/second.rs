//! Issue 7: Hessian-vector products and Hessians (`#[gradient(wrt = x, hessian)]`), against
//! closed forms and finite differences of the generated gradient.

use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

use crate::support::*;

/// Central differences of a gradient along a direction: (∇f(x + hv) − ∇f(x − hv)) / 2h.
fn fd_hvp(
    x: &DMatrix<f64>,
    v: &DMatrix<f64>,
    grad: impl Fn(&DMatrix<f64>) -> DMatrix<f64>,
) -> DMatrix<f64> {
    let h = 1e-5;
    (grad(&(x + v * h)) - grad(&(x - v * h))) / (2.0 * h)
}

/// ∇²(xᵀAx) = A + Aᵀ.
#[gradient(wrt = x, hessian)]
fn quadratic(x: &DVector<f64>, a: &DMatrix<f64>) -> f64 {
    (x.transpose() * a * x)[(0, 0)]
}

#[test]
fn quadratic_form_hessian_is_a_plus_at() {
    let mut r = rng(60);
    let (x, a, v) = (vec(&mut r, 4), mat(&mut r, 4, 4), vec(&mut r, 4));
    let h = quadratic_hessian(&x, &a);
    assert_close(&h, &(&a + a.transpose()), 1e-12);
    assert_close(
        &quadratic_hvp(&x, &a, &v),
        &((&a + a.transpose()) * &v),
        1e-12,
    );
    assert_eq!(QUADRATIC_HESSIAN_FORMULA, "∇²f = a + aᵀ");
    let _ = quadratic(&x, &a);
}

/// ∇²‖Ax − b‖² = 2AᵀA (A rectangular).
#[gradient(wrt = x, hessian)]
fn residual(a: &DMatrix<f64>, x: &DVector<f64>, b: &DVector<f64>) -> f64 {
    (a * x - b).norm_squared()
}

#[test]
fn least_squares_hessian_is_two_at_a() {
    let mut r = rng(61);
    let (a, x, b) = (mat(&mut r, 6, 3), vec(&mut r, 3), vec(&mut r, 6));
    assert_close(
        &residual_hessian(&a, &x, &b),
        &(2.0 * a.transpose() * &a),
        1e-12,
    );
    assert_eq!(RESIDUAL_HESSIAN_FORMULA, "∇²f = 2 aᵀ a");
    let _ = residual(&a, &x, &b);
}

/// Logistic loss: ∇² = Xᵀ diag(σ(1 − σ)) X.
#[gradient(wrt = w, hessian)]
fn logistic(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let z = x * w;
    z.map(|v| v.exp().ln_1p()).sum() - y.dot(&z)
}

#[test]
fn logistic_loss_hessian() {
    let mut r = rng(62);
    let (x, w) = (mat(&mut r, 8, 3), vec(&mut r, 3));
    let y = DVector::from_fn(8, |i, _| (i % 2) as f64);
    let s = (&x * &w).map(|v| 1.0 / (1.0 + (-v).exp()));
    let d = DMatrix::from_diagonal(&s.map(|p| p * (1.0 - p)));
    let want = x.transpose() * d * &x;
    let h = logistic_hessian(&x, &w, &y);
    assert_close(&h, &want, 1e-12);
    assert_eq!(h, h.transpose());
    let v = vec(&mut r, 3);
    assert_close(&logistic_hvp(&x, &w, &y, &v), &(&want * &v), 1e-12);
    assert_eq!(
        LOGISTIC_HESSIAN_FORMULA,
        "∇²f = xᵀ diag(σ(x w) ⊙ (1 − σ(x w))) x"
    );
    let _ = logistic(&x, &w, &y);
}

/// tr(XᵀAX): V ↦ (A + Aᵀ)V, for a matrix variable.
#[gradient(wrt = x, hessian)]
fn trace_form(x: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 {
    (x.transpose() * a * x).trace()
}

#[test]
fn trace_form_hvp_and_hessian() {
    let mut r = rng(63);
    let (x, a, v) = (mat(&mut r, 4, 3), mat(&mut r, 4, 4), mat(&mut r, 4, 3));
    assert_close(
        &trace_form_hvp(&x, &a, &v),
        &((&a + a.transpose()) * &v),
        1e-12,
    );
    let h = trace_form_hessian(&x, &a);
    assert_eq!(h.shape(), (12, 12));
    // H = I₃ ⊗ (A + Aᵀ) on vec(X).
    assert_close(
        &h,
        &DMatrix::<f64>::identity(3, 3).kronecker(&(&a + a.transpose())),
        1e-12,
    );
    assert_eq!(TRACE_FORM_HESSIAN_FORMULA, "∇²f = I ⊗ (a + aᵀ)");
    let _ = trace_form(&x, &a);
}

/// log det X: V ↦ −X⁻ᵀVᵀX⁻ᵀ.
#[gradient(wrt = x, hessian)]
fn log_det(x: &DMatrix<f64>) -> f64 {
    x.determinant().ln()
}

#[test]
fn log_det_hessian_vector_product() {
    let mut r = rng(64);
    let (x, v) = (spd(&mut r, 3), mat(&mut r, 3, 3));
    let xit = x.clone().try_inverse().unwrap().transpose();
    assert_close(&log_det_hvp(&x, &v), &(-&xit * v.transpose() * &xit), 1e-12);
    assert_close(&log_det_hvp(&x, &v), &fd_hvp(&x, &v, log_det_grad), 1e-6);
    let h = log_det_hessian(&x);
    let vv = DVector::from_column_slice(v.as_slice());
    let hv = &h * vv;
    assert_close(
        &DMatrix::from_column_slice(3, 3, hv.as_slice()),
        &log_det_hvp(&x, &v),
        1e-12,
    );
    println!("{LOG_DET_HESSIAN_FORMULA}");
    let _ = log_det(&x);
}

/// Several variables, one of them a scalar: the Hessian is the block matrix over (vec a, s).
#[gradient(wrt = (a, s), hessian)]
fn two_variables(a: &DMatrix<f64>, s: f64, b: &DMatrix<f64>) -> f64 {
    (a * b).map(|v| (v * s).tanh()).sum() + s * a.norm_squared()
}

#[test]
fn hessian_of_several_variables_matches_differences_of_the_gradient() {
    let mut r = rng(65);
    let (a, b, s) = (mat(&mut r, 3, 2), mat(&mut r, 2, 4), 0.7);
    let h = two_variables_hessian(&a, s, &b);
    assert_eq!(h.shape(), (7, 7));
    assert_eq!(h, h.transpose());
    // Column by column against central differences of the gradient.
    let eps = 1e-5;
    for col in 0..7 {
        let (mut ap, mut am, mut sp, mut sm) = (a.clone(), a.clone(), s, s);
        if col < 6 {
            ap[col] += eps;
            am[col] -= eps;
        } else {
            sp += eps;
            sm -= eps;
        }
        let (gap, gsp) = two_variables_grad(&ap, sp, &b);
        let (gam, gsm) = two_variables_grad(&am, sm, &b);
        for row in 0..6 {
            assert_close_scalar(h[(row, col)], (gap[row] - gam[row]) / (2.0 * eps), 1e-6);
        }
        assert_close_scalar(h[(6, col)], (gsp - gsm) / (2.0 * eps), 1e-6);
    }
    // The tuple HVP agrees with the Hessian.
    let (va, vs) = (mat(&mut r, 3, 2), 0.3);
    let (ha, hs) = two_variables_hvp(&a, s, &b, (&va, vs));
    let mut stacked = DVector::zeros(7);
    stacked
        .rows_mut(0, 6)
        .copy_from(&DVector::from_column_slice(va.as_slice()));
    stacked[6] = vs;
    let hv = &h * stacked;
    assert_close(
        &DVector::from_column_slice(ha.as_slice()),
        &hv.rows(0, 6).into_owned(),
        1e-12,
    );
    assert_close_scalar(hs, hv[6], 1e-12);
    let _ = two_variables(&a, s, &b);
}
