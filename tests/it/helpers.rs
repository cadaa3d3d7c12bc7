//! `#[differentiable]` helpers (issue "Code as people write it", part 2): a helper is read where
//! it is called, with the caller's arguments in place of its parameters, so that gradients,
//! Hessians and Jacobians flow through it. Same module, through a path, from another module,
//! helpers calling helpers, several calls, a matrix-valued helper, and a method's call; each
//! against central differences and the closed form. Another crate's helpers are tested in
//! `integrations/`.

use matgrad::nalgebra::{DMatrix, DVector};
use matgrad::{differentiable, gradient, jacobian};

use crate::support::*;

/// ‖v‖², in the same module as its caller.
#[differentiable]
fn squared(v: &DVector<f64>) -> f64 {
    v.norm_squared()
}

#[gradient(wrt = w)]
fn least_squares(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    squared(&(x * w - y))
}

#[test]
fn a_helper_in_the_same_module() {
    let mut g = rng(1601);
    let (x, w, y) = (mat(&mut g, 6, 3), vec(&mut g, 3), vec(&mut g, 6));
    let closed = 2.0 * x.transpose() * (&x * &w - &y);
    assert_close(&least_squares_grad(&x, &w, &y), &closed, 1e-12);
    assert_close(
        &least_squares_grad(&x, &w, &y),
        &fd(&w, |w| least_squares(&x, w, &y)),
        1e-6,
    );
    // The caller's formula is one formula: the helper is read in.
    assert_eq!(LEAST_SQUARES_GRAD_FORMULA, "∂f/∂w = 2 xᵀ(x w − y)");
}

pub mod kernels {
    use matgrad::differentiable;
    use matgrad::nalgebra::DVector;

    /// ‖a − b‖².
    #[differentiable]
    pub fn squared_distance(a: &DVector<f64>, b: &DVector<f64>) -> f64 {
        (a - b).norm_squared()
    }

    /// The squared-exponential kernel, through another helper of this module.
    #[differentiable]
    pub fn se(a: &DVector<f64>, b: &DVector<f64>, ell: f64) -> f64 {
        let d = squared_distance(a, b);
        (-d / (2.0 * ell * ell)).exp()
    }
}

/// Two calls of a helper from another module, with different arguments, one of them a
/// variable only in its second argument.
#[gradient(wrt = (x, ell), hessian)]
fn similarity(x: &DVector<f64>, y: &DVector<f64>, ell: f64) -> f64 {
    kernels::se(x, y, ell) + 0.5 * kernels::se(y, &(2.0 * x), 1.5)
}

#[test]
fn helpers_through_paths_calling_helpers() {
    let mut g = rng(1602);
    let (x, y) = (vec(&mut g, 3), vec(&mut g, 3));
    let ell = 0.8;
    let k1 = kernels::se(&x, &y, ell);
    let k2 = kernels::se(&y, &(2.0 * &x), 1.5);
    let (gx, gl) = similarity_grad(&x, &y, ell);
    // ∂k(a, b)/∂a = −(a − b) k / ℓ², ∂k/∂b = (a − b) k / ℓ², ∂k/∂ℓ = ‖a − b‖² k / ℓ³
    let closed_x = -(&x - &y) * (k1 / (ell * ell)) + 0.5 * 2.0 * (&y - 2.0 * &x) * (k2 / 2.25);
    assert_close(&gx, &closed_x, 1e-12);
    assert_close_scalar(gl, (&x - &y).norm_squared() * k1 / ell.powi(3), 1e-12);
    assert_close(&gx, &fd(&x, |x| similarity(x, &y, ell)), 1e-6);
    assert_close_scalar(gl, fd_scalar(ell, |l| similarity(&x, &y, l)), 1e-6);
    // Second derivatives flow through the helper too: the Hessian of (x, ℓ), column by column
    // against differences of the gradient.
    let hess = similarity_hessian(&x, &y, ell);
    assert_eq!(hess.shape(), (4, 4));
    let h = 1e-6;
    for col in 0..4 {
        let (mut xp, mut xm, mut lp, mut lm) = (x.clone(), x.clone(), ell, ell);
        if col < 3 {
            xp[col] += h;
            xm[col] -= h;
        } else {
            lp += h;
            lm -= h;
        }
        let ((gxp, glp), (gxm, glm)) = (similarity_grad(&xp, &y, lp), similarity_grad(&xm, &y, lm));
        for row in 0..3 {
            assert_close_scalar(hess[(row, col)], (gxp[row] - gxm[row]) / (2.0 * h), 1e-5);
        }
        assert_close_scalar(hess[(3, col)], (glp - glm) / (2.0 * h), 1e-5);
    }
}

/// A helper with a matrix value: a layer.
#[differentiable]
fn layer(w: &DMatrix<f64>, x: &DMatrix<f64>) -> DMatrix<f64> {
    (w * x).map(|z| z.tanh())
}

#[gradient(wrt = (w1, w2))]
fn two_layers(w1: &DMatrix<f64>, w2: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    (w2 * layer(w1, x) - y).norm_squared()
}

#[test]
fn a_helper_with_a_matrix_value() {
    let mut g = rng(1603);
    let (w1, w2, x, y) = (
        mat(&mut g, 4, 3),
        mat(&mut g, 2, 4),
        mat(&mut g, 3, 5),
        mat(&mut g, 2, 5),
    );
    let (g1, g2) = two_layers_grad(&w1, &w2, &x, &y);
    let h = (&w1 * &x).map(|z| z.tanh());
    let r = &w2 * &h - &y;
    assert_close(&g2, &(2.0 * &r * h.transpose()), 1e-12);
    let delta = (2.0 * w2.transpose() * &r).component_mul(&h.map(|v| 1.0 - v * v));
    assert_close(&g1, &(delta * x.transpose()), 1e-12);
    assert_close(&g1, &fd(&w1, |w1| two_layers(w1, &w2, &x, &y)), 1e-6);
}

/// A model helper with a vector value, and the Jacobian of residuals through it.
#[differentiable]
fn decay(p: &DVector<f64>, t: &DVector<f64>) -> DVector<f64> {
    t.map(|v| (-p[1] * v).exp()) * p[0]
}

#[jacobian(wrt = p)]
fn residuals(p: &DVector<f64>, t: &DVector<f64>, y: &DVector<f64>) -> DVector<f64> {
    decay(p, t) - y
}

#[test]
fn a_jacobian_through_a_helper() {
    let p = DVector::from_vec(vec![2.0, 0.7]);
    let t = DVector::from_vec(vec![0.0, 0.5, 1.0, 2.0]);
    let y = DVector::from_vec(vec![2.1, 1.3, 1.0, 0.5]);
    let j = residuals_jacobian(&p, &t, &y);
    let e = t.map(|v| (-0.7 * v).exp());
    for i in 0..4 {
        assert_close_scalar(j[(i, 0)], e[i], 1e-12);
        assert_close_scalar(j[(i, 1)], -2.0 * t[i] * e[i], 1e-12);
    }
    assert_close(&residuals(&p, &t, &y), &(decay(&p, &t) - &y), 1e-14);
}

/// A method that calls a helper on its fields.
struct Regression {
    x: DMatrix<f64>,
    y: DVector<f64>,
}

impl Regression {
    #[gradient(wrt = w)]
    fn loss(&self, w: &DVector<f64>) -> f64 {
        squared(&(&self.x * w - &self.y))
            + kernels::squared_distance(w, &self.y.rows(0, 3).into_owned())
    }
}

#[test]
fn a_method_calls_helpers() {
    let mut g = rng(1604);
    let m = Regression {
        x: mat(&mut g, 5, 3),
        y: vec(&mut g, 5),
    };
    let w = vec(&mut g, 3);
    let head = m.y.rows(0, 3).into_owned();
    let closed = 2.0 * m.x.transpose() * (&m.x * &w - &m.y) + 2.0 * (&w - head);
    assert_close(&m.loss_grad(&w), &closed, 1e-12);
    assert_close(&m.loss_grad(&w), &fd(&w, |w| m.loss(w)), 1e-6);
}
