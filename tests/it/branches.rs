//! Branches on the active path (issue "Code as people write it", part 3): `if`/`else` inside
//! `map` closures (each entry takes its own branch), at the body level on a constant condition
//! (both branches derived, the one taken chosen at run time) and on a condition that depends on
//! a variable (the derivative of the branch taken), and `match` on a constant. Each against
//! central differences away from the boundaries and against its closed form.

use matgrad::nalgebra::{DMatrix, DVector, Vector3};
use matgrad::{gradient, jacobian};

use crate::support::*;

/// The Huber loss of a linear model's residuals, as its authors write it.
#[gradient(wrt = w, hessian)]
fn huber(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>, delta: f64) -> f64 {
    (x * w - y)
        .map(|r| {
            if r.abs() <= delta {
                0.5 * r * r
            } else {
                delta * (r.abs() - 0.5 * delta)
            }
        })
        .sum()
}

#[test]
fn huber_gradient_is_x_transpose_psi() {
    let mut g = rng(1401);
    let (x, w, y) = (mat(&mut g, 9, 4), vec(&mut g, 4), vec(&mut g, 9));
    let delta = 0.4;
    let r = &x * &w - &y;
    // Some residuals on each side of the kink.
    assert!(r.iter().any(|v| v.abs() <= delta) && r.iter().any(|v| v.abs() > delta));
    let grad = huber_grad(&x, &w, &y, delta);
    let psi = r.map(|v| {
        if v.abs() <= delta {
            v
        } else {
            delta * v.signum()
        }
    });
    assert_close(&grad, &(x.transpose() * &psi), 1e-12);
    assert_close(&grad, &fd(&w, |w| huber(&x, w, &y, delta)), 1e-6);
    let (value, g2) = huber_value_and_grad(&x, &w, &y, delta);
    assert_close_scalar(value, huber(&x, &w, &y, delta), 1e-14);
    assert_close(&g2, &grad, 1e-14);
    // The Hessian is xᵀ diag([|r| ≤ δ]) x.
    let d = DMatrix::from_diagonal(&r.map(|v| if v.abs() <= delta { 1.0 } else { 0.0 }));
    let h = huber_hessian(&x, &w, &y, delta);
    assert_close(&h, &(x.transpose() * d * &x), 1e-12);
    let v = vec(&mut g, 4);
    assert_close(&huber_hvp(&x, &w, &y, delta, &v), &(&h * &v), 1e-12);
    assert!(HUBER_GRAD_FORMULA.contains("if"), "{HUBER_GRAD_FORMULA}");
}

/// A layer with a leaky ReLU.
#[gradient(wrt = w)]
fn leaky_layer(w: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    (w * x).map(|z| if z > 0.0 { z } else { 0.01 * z }).sum()
}

#[test]
fn leaky_relu_takes_the_slope_of_each_entrys_branch() {
    let mut g = rng(1402);
    let (w, x) = (mat(&mut g, 3, 5), mat(&mut g, 5, 7));
    let z = &w * &x;
    let slope = z.map(|v| if v > 0.0 { 1.0 } else { 0.01 });
    let grad = leaky_layer_grad(&w, &x);
    assert_close(&grad, &(&slope * x.transpose()), 1e-12);
    assert_close(&grad, &fd(&w, |w| leaky_layer(w, &x)), 1e-6);
}

/// A log guarded against non-positive entries: the gradient is 0 there, not NaN, although the
/// derivative of the branch not taken (1/v) is infinite at 0.
#[gradient(wrt = w)]
fn guarded_log(w: &DVector<f64>) -> f64 {
    w.map(|v| if v > 0.0 { v.ln() } else { 0.0 }).sum()
}

#[test]
fn a_guarded_log_has_a_finite_gradient_where_the_guard_fails() {
    let w = DVector::from_vec(vec![2.0, 0.0, -1.5, 0.25]);
    let grad = guarded_log_grad(&w);
    assert_eq!(grad, DVector::from_vec(vec![0.5, 0.0, 0.0, 4.0]));
    let inner = DVector::from_vec(vec![2.0, 0.3, 0.25]);
    assert_close(&guarded_log_grad(&inner), &fd(&inner, guarded_log), 1e-6);
}

/// Clipping to [lo, hi] with an `else if` chain.
#[gradient(wrt = (w, lo))]
fn clipped(w: &DVector<f64>, lo: f64, hi: f64) -> f64 {
    w.map(|v| {
        if v < lo {
            lo
        } else if v > hi {
            hi
        } else {
            v
        }
    })
    .norm_squared()
}

#[test]
fn clipping_passes_the_gradient_inside_and_moves_the_bound_outside() {
    let w = DVector::from_vec(vec![-2.0, -0.3, 0.1, 0.7, 3.0]);
    let (lo, hi) = (-0.5, 0.5);
    let (gw, glo) = clipped_grad(&w, lo, hi);
    let c = w.map(|v| v.clamp(lo, hi));
    let inside = w.map(|v| if v >= lo && v <= hi { 1.0 } else { 0.0 });
    assert_close(&gw, &(2.0 * c.component_mul(&inside)), 1e-12);
    // Only the entry below lo depends on lo: 2 lo.
    assert_close_scalar(glo, 2.0 * lo, 1e-12);
    assert_close(&gw, &fd(&w, |w| clipped(w, lo, hi)), 1e-6);
    assert_close_scalar(glo, fd_scalar(lo, |lo| clipped(&w, lo, hi)), 1e-6);
}

/// A penalty chosen by configuration: both branches derived, the one taken chosen at run time.
#[gradient(wrt = w)]
fn regularised(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>, l1: bool, lambda: f64) -> f64 {
    let data = (x * w - y).norm_squared();
    if l1 {
        data + lambda * w.map(|v| v.abs()).sum()
    } else {
        data + lambda * w.norm_squared()
    }
}

#[test]
fn a_constant_condition_selects_the_derivative_of_its_branch() {
    let mut g = rng(1403);
    let (x, w, y) = (mat(&mut g, 8, 3), vec(&mut g, 3), vec(&mut g, 8));
    let base = 2.0 * x.transpose() * (&x * &w - &y);
    let l1 = regularised_grad(&x, &w, &y, true, 0.3);
    assert_close(&l1, &(&base + 0.3 * w.map(f64::signum)), 1e-12);
    let l2 = regularised_grad(&x, &w, &y, false, 0.3);
    assert_close(&l2, &(&base + 0.6 * &w), 1e-12);
    for flag in [true, false] {
        let numeric = fd(&w, |w| regularised(&x, w, &y, flag, 0.3));
        assert_close(&regularised_grad(&x, &w, &y, flag, 0.3), &numeric, 1e-6);
    }
}

/// `match` on a constant: a penalty chosen by number.
#[gradient(wrt = w)]
fn penalty(w: &DVector<f64>, kind: usize) -> f64 {
    match kind {
        0 => w.norm(),
        1 | 2 => w.sum(),
        _ => w.norm_squared(),
    }
}

#[test]
fn match_on_a_constant_derives_every_arm() {
    let w = DVector::from_vec(vec![0.5, -1.0, 2.0]);
    assert_close(&penalty_grad(&w, 0), &(&w / w.norm()), 1e-12);
    assert_close(&penalty_grad(&w, 2), &DVector::from_element(3, 1.0), 1e-12);
    assert_close(&penalty_grad(&w, 7), &(2.0 * &w), 1e-12);
    for kind in 0..4 {
        assert_close(&penalty_grad(&w, kind), &fd(&w, |w| penalty(w, kind)), 1e-6);
    }
}

/// A condition on the variable itself: a trust region's model switches at ‖w‖ = r.
#[gradient(wrt = w)]
fn trust(w: &DVector<f64>, a: &DMatrix<f64>, r: f64) -> f64 {
    let z = if w.norm() > r { a * w } else { w.clone() };
    z.norm_squared()
}

#[test]
fn a_condition_on_the_variable_takes_the_derivative_of_the_branch_taken() {
    let mut g = rng(1404);
    let (w, a) = (vec(&mut g, 3), mat(&mut g, 3, 3));
    let (inside, outside) = (w.norm() * 1.5, w.norm() * 0.5);
    assert_close(&trust_grad(&w, &a, inside), &(2.0 * &w), 1e-12);
    let ata = a.transpose() * &a;
    assert_close(&trust_grad(&w, &a, outside), &(2.0 * ata * &w), 1e-12);
    for r in [inside, outside] {
        assert_close(&trust_grad(&w, &a, r), &fd(&w, |w| trust(w, &a, r)), 1e-6);
    }
    // On the boundary the derivative is the branch taken's: ‖w‖ > r fails at ‖w‖ = r.
    assert_close(&trust_grad(&w, &a, w.norm()), &(2.0 * &w), 1e-12);
}

/// Residuals clipped entry by entry, with their Jacobian.
#[jacobian(wrt = p)]
fn clipped_residuals(p: &DVector<f64>, x: &DMatrix<f64>, y: &DVector<f64>) -> DVector<f64> {
    (x * p - y).map(|r| if r.abs() < 1.0 { r } else { r.signum() })
}

#[test]
fn the_jacobian_of_clipped_residuals_keeps_the_rows_inside() {
    let mut g = rng(1405);
    let (p, x) = (vec(&mut g, 3), mat(&mut g, 6, 3));
    let y = DVector::from_vec(vec![0.0, 3.0, -3.0, 0.1, -0.2, 0.3]);
    let r = &x * &p - &y;
    let j = clipped_residuals_jacobian(&p, &x, &y);
    let mut want = x.clone();
    for i in 0..6 {
        if r[i].abs() >= 1.0 {
            want.row_mut(i).fill(0.0);
        }
    }
    assert_close(&j, &want, 1e-12);
    let numeric = fd_jacobian(&DMatrix::from_column_slice(3, 1, p.as_slice()), &|q| {
        let q = DVector::from_column_slice(q.as_slice());
        let f = clipped_residuals(&q, &x, &y);
        DMatrix::from_column_slice(f.len(), 1, f.as_slice())
    });
    assert_close(&j, &numeric, 1e-6);
}

/// Branches in `f32` and on static shapes: the conditions' 1 and 0 have the scalar's type.
#[gradient(wrt = w)]
fn soft_threshold(w: &Vector3<f32>, t: f32, strict: bool) -> f32 {
    let s = w.map(|v| {
        if v.abs() > t && strict {
            v.abs() - t
        } else {
            0.0
        }
    });
    s.norm_squared()
}

#[test]
fn branches_in_f32_on_static_vectors() {
    let w = Vector3::new(0.9f32, -0.1, -2.0);
    let grad = soft_threshold_grad(&w, 0.5, true);
    let want = w.map(|v| {
        if v.abs() > 0.5 {
            2.0 * (v.abs() - 0.5) * v.signum()
        } else {
            0.0
        }
    });
    for k in 0..3 {
        assert!((grad[k] - want[k]).abs() < 1e-6, "{grad} vs {want}");
    }
    assert_eq!(soft_threshold_grad(&w, 0.5, false), Vector3::zeros());
    let value = soft_threshold(&w, 0.5, true);
    assert!((value - (0.16 + 2.25)).abs() < 1e-6, "{value}");
}

/// Branches for a scalar type parameter: conditions compare values of `T`, and a constant
/// condition's 1 and 0 are converted to `T`.
#[gradient(wrt = w)]
fn clipped_generic<T: matgrad::nalgebra::RealField + Copy>(
    w: &DVector<T>,
    cap: T,
    squared: bool,
) -> T {
    let c = w.map(|v| if v > cap { cap } else { v });
    if squared {
        c.norm_squared()
    } else {
        c.sum()
    }
}

#[test]
fn branches_for_a_generic_scalar() {
    let w: DVector<f64> = DVector::from_vec(vec![0.2, 1.5, -0.4]);
    let inside = DVector::from_vec(vec![1.0, 0.0, 1.0]);
    let c = w.map(|v: f64| v.min(1.0));
    assert_close(
        &clipped_generic_grad(&w, 1.0, true),
        &(2.0 * c.component_mul(&inside)),
        1e-12,
    );
    assert_close(&clipped_generic_grad(&w, 1.0, false), &inside, 1e-12);
    assert_close(
        &clipped_generic_grad(&w, 1.0, true),
        &fd(&w, |w| clipped_generic(w, 1.0, true)),
        1e-6,
    );
}

/// The branch not taken is not computed: here it would invert a singular matrix.
#[gradient(wrt = w)]
fn maybe_whitened(w: &DVector<f64>, a: &DMatrix<f64>, whiten: bool) -> f64 {
    if whiten {
        (a.clone().try_inverse().unwrap() * w).norm_squared()
    } else {
        w.norm_squared()
    }
}

#[test]
fn the_branch_not_taken_is_not_computed() {
    let w = DVector::from_vec(vec![1.0, 2.0]);
    let singular = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 4.0]);
    assert_close(
        &maybe_whitened_grad(&w, &singular, false),
        &(2.0 * &w),
        1e-14,
    );
    let (value, grad) = maybe_whitened_value_and_grad(&w, &singular, false);
    assert_close_scalar(value, 5.0, 1e-14);
    assert_close_scalar(maybe_whitened(&w, &singular, false), 5.0, 1e-14);
    assert_close(&grad, &(2.0 * &w), 1e-14);
    let a = DMatrix::from_row_slice(2, 2, &[2.0, 0.0, 1.0, 1.0]);
    let ai = a.clone().try_inverse().unwrap();
    let closed = 2.0 * ai.transpose() * (&ai * &w);
    assert_close(&maybe_whitened_grad(&w, &a, true), &closed, 1e-12);
}
