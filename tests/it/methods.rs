//! `#[gradient]` and `#[jacobian]` on methods (issue "Code as people write it", part 1): the
//! fields are constants read as real code reads them, without typed `let`s, also where the body
//! alone cannot tell whether a field is a scalar or a matrix (rustc picks the operation through
//! `matgrad::__private::Times`); the generated items are methods.

use matgrad::nalgebra::{DMatrix, DVector, Matrix2x3, Vector2, Vector3};
use matgrad::{gradient, jacobian};

use crate::support::*;

/// A ridge regression model that keeps its data.
struct Ridge {
    x: DMatrix<f64>,
    y: DVector<f64>,
    lambda: f64,
}

impl Ridge {
    #[gradient(wrt = w, hessian)]
    fn loss(&self, w: &DVector<f64>) -> f64 {
        (&self.x * w - &self.y).norm_squared() + self.lambda * w.norm_squared()
    }

    /// A field captured in a closure.
    #[gradient(wrt = w)]
    fn soft(&self, w: &DVector<f64>) -> f64 {
        (&self.x * w).map(|z| (z * self.lambda).tanh()).sum()
    }

    #[jacobian(wrt = w)]
    fn residuals(&self, w: &DVector<f64>) -> DVector<f64> {
        &self.x * w - &self.y
    }
}

fn ridge(seed: u64) -> (Ridge, DVector<f64>) {
    let mut g = rng(seed);
    let model = Ridge {
        x: mat(&mut g, 7, 3),
        y: vec(&mut g, 7),
        lambda: 0.3,
    };
    (model, vec(&mut g, 3))
}

#[test]
fn a_methods_gradient_is_a_method() {
    let (m, w) = ridge(1501);
    let grad = m.loss_grad(&w);
    let closed = 2.0 * m.x.transpose() * (&m.x * &w - &m.y) + 2.0 * m.lambda * &w;
    assert_close(&grad, &closed, 1e-12);
    assert_close(&grad, &fd(&w, |w| m.loss(w)), 1e-6);
    let (value, g2) = m.loss_value_and_grad(&w);
    assert_close_scalar(value, m.loss(&w), 1e-14);
    assert_close(&g2, &grad, 1e-14);
    assert_close(&m.try_loss_grad(&w).expect("shapes fit"), &grad, 1e-14);
    let v = vec(&mut rng(7), 3);
    let h = 2.0 * (m.x.transpose() * &m.x + m.lambda * DMatrix::identity(3, 3));
    assert_close(&m.loss_hvp(&w, &v), &(&h * &v), 1e-12);
    assert_close(&m.loss_hessian(&w), &h, 1e-12);
}

#[test]
fn a_field_captured_in_a_closure_is_a_constant() {
    let (m, w) = ridge(1502);
    let z = &m.x * &w;
    let d = z.map(|v| m.lambda * (1.0 - (v * m.lambda).tanh().powi(2)));
    assert_close(&m.soft_grad(&w), &(m.x.transpose() * d), 1e-12);
    assert_close(&m.soft_grad(&w), &fd(&w, |w| m.soft(w)), 1e-6);
}

#[test]
fn a_methods_jacobian_is_a_method() {
    let (m, w) = ridge(1503);
    assert_close(&m.residuals_jacobian(&w), &m.x, 1e-14);
    let (r, j) = m.residuals_value_and_jacobian(&w);
    assert_close(&r, &m.residuals(&w), 1e-14);
    assert_close(&j, &m.x, 1e-14);
}

/// A field of a kind the body cannot tell: `self.k * w` is a scaling if `k` is a scalar and a
/// matrix product if it is a matrix; the same body compiles and is right for both.
struct Scaled<K> {
    k: K,
    y: DVector<f64>,
}

impl Scaled<f64> {
    #[gradient(wrt = w)]
    fn misfit(&self, w: &DVector<f64>) -> f64 {
        (self.k * w - &self.y).norm_squared()
    }
}

impl Scaled<DMatrix<f64>> {
    #[gradient(wrt = w)]
    fn misfit(&self, w: &DVector<f64>) -> f64 {
        (&self.k * w - &self.y).norm_squared()
    }

    /// The field on the right: w ᵀ k.
    #[gradient(wrt = w)]
    fn row_misfit(&self, w: &DVector<f64>) -> f64 {
        (w.transpose() * &self.k).norm_squared()
    }
}

#[test]
fn a_field_of_either_kind_gets_its_own_derivative() {
    let mut g = rng(1504);
    let (w, y) = (vec(&mut g, 4), vec(&mut g, 4));
    let scalar = Scaled {
        k: 1.7,
        y: y.clone(),
    };
    let closed = 2.0 * 1.7 * (1.7 * &w - &y);
    assert_close(&scalar.misfit_grad(&w), &closed, 1e-12);
    assert_close(&scalar.misfit_grad(&w), &fd(&w, |w| scalar.misfit(w)), 1e-6);
    let k = mat(&mut g, 5, 4);
    let y5 = vec(&mut g, 5);
    let matrix = Scaled {
        k: k.clone(),
        y: y5.clone(),
    };
    let closed = 2.0 * k.transpose() * (&k * &w - &y5);
    assert_close(&matrix.misfit_grad(&w), &closed, 1e-12);
    assert_close(&matrix.misfit_grad(&w), &fd(&w, |w| matrix.misfit(w)), 1e-6);
    let kw = 4;
    let square = Scaled {
        k: mat(&mut g, kw, 3),
        y: y.clone(),
    };
    let closed = 2.0 * &square.k * (square.k.transpose() * &w);
    assert_close(&square.row_misfit_grad(&w), &closed, 1e-12);
    assert_close(
        &square.row_misfit_grad(&w),
        &fd(&w, |w| square.row_misfit(w)),
        1e-6,
    );
}

/// Static-size and generic fields.
struct Plane<T> {
    a: Matrix2x3<T>,
    b: Vector2<T>,
}

impl<T: matgrad::nalgebra::RealField + Copy> Plane<T> {
    #[gradient(wrt = p)]
    fn distance(&self, p: &Vector3<T>) -> T {
        (self.a * p - self.b).norm_squared()
    }
}

#[test]
fn static_and_generic_fields() {
    let plane = Plane {
        a: Matrix2x3::new(1.0, 2.0, 0.5, -1.0, 0.0, 3.0),
        b: Vector2::new(0.25, -0.5),
    };
    let p = Vector3::new(0.3, -0.7, 1.1);
    let closed = 2.0 * plane.a.transpose() * (plane.a * p - plane.b);
    let (value, grad) = plane.distance_value_and_grad(&p);
    assert_close_scalar(value, plane.distance(&p), 1e-14);
    for k in 0..3 {
        assert_close_scalar(grad[k], closed[k], 1e-12);
    }
}

fn weights(n: usize) -> DMatrix<f64> {
    DMatrix::from_fn(n, n, |i, j| 1.0 / (1.0 + i as f64 + 2.0 * j as f64))
}

/// A constant computed by a call whose type matgrad cannot see: rustc picks the product.
#[gradient(wrt = w)]
fn weighted(w: &DVector<f64>) -> f64 {
    (weights(w.len()) * w).norm_squared()
}

#[test]
fn a_constant_of_unknown_kind_from_a_call() {
    let w = DVector::from_vec(vec![0.5, -1.0, 2.0]);
    let k = weights(3);
    assert_close(
        &weighted_grad(&w),
        &(2.0 * k.transpose() * (&k * &w)),
        1e-12,
    );
    assert_close(&weighted_grad(&w), &fd(&w, weighted), 1e-6);
}

/// The README's model: a method with a branch in a closure that reads a field.
struct Robust {
    x: DMatrix<f64>,
    y: DVector<f64>,
    delta: f64,
}

impl Robust {
    #[gradient(wrt = w, hessian)]
    fn loss(&self, w: &DVector<f64>) -> f64 {
        (&self.x * w - &self.y)
            .map(|r| {
                if r.abs() <= self.delta {
                    0.5 * r * r
                } else {
                    self.delta * (r.abs() - 0.5 * self.delta)
                }
            })
            .sum()
    }
}

#[test]
fn the_readme_model() {
    let mut g = rng(1506);
    let model = Robust {
        x: mat(&mut g, 8, 3),
        y: vec(&mut g, 8),
        delta: 0.5,
    };
    let w = vec(&mut g, 3);
    let r = &model.x * &w - &model.y;
    let psi = r.map(|v| if v.abs() <= 0.5 { v } else { 0.5 * v.signum() });
    assert_close(&model.loss_grad(&w), &(model.x.transpose() * psi), 1e-12);
    assert_close(&model.loss_grad(&w), &fd(&w, |w| model.loss(w)), 1e-6);
    let v = vec(&mut g, 3);
    let numeric = (model.loss_grad(&(&w + 1e-6 * &v)) - model.loss_grad(&(&w - 1e-6 * &v))) / 2e-6;
    assert_close(&model.loss_hvp(&w, &v), &numeric, 1e-5);
    assert!(Robust::LOSS_GRAD_FORMULA.starts_with("∂f/∂w = self.xᵀ({self.x w − self.y if"));
}
