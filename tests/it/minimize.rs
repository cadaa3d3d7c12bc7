//! Issue 8: `#[gradient(wrt = w, minimize)]` — the closed-form minimiser `<name>_argmin` of an
//! objective quadratic in its variable, against solutions computed another way (nalgebra's SVD
//! least squares, or the textbook normal equations by LU) and against ∇f = 0 at the result.

use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector, Matrix3x2, Vector2};

use crate::support::*;

/// Ordinary least squares: ∇f = 2 xᵀ(x w − y) = 0 ⇔ xᵀx w = xᵀy.
#[gradient(wrt = w, minimize)]
fn ols(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (x * w - y).norm_squared()
}

/// Weighted least squares with weights d ≥ 0 (a vector, applied entrywise).
#[gradient(wrt = w, minimize)]
fn wls(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>, d: &DVector<f64>) -> f64 {
    let r = x * w - y;
    r.component_mul(&r).dot(d)
}

/// Ridge: (xᵀx + λI) w = xᵀy.
#[gradient(wrt = w, minimize)]
fn ridge(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>, lambda: f64) -> f64 {
    (x * w - y).norm_squared() + lambda * w.norm_squared()
}

/// Generalised least squares rᵀ S⁻¹ r with a constant covariance S (its inverse does not
/// depend on w, so it is computed as written).
#[gradient(wrt = w, minimize)]
fn gls(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>, s: &DMatrix<f64>) -> f64 {
    let s_inv = s.clone().try_inverse().unwrap();
    let r = x * w - y;
    (r.transpose() * s_inv * r)[(0, 0)]
}

/// Several right-hand sides at once: a matrix variable, ‖X W − Y‖²_F.
#[gradient(wrt = w, minimize)]
fn multi(x: &DMatrix<f64>, w: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    (x * w - y).norm_squared()
}

/// A static variable.
#[gradient(wrt = w, minimize)]
fn fixed(x: &Matrix3x2<f64>, w: &Vector2<f64>, y: &nalgebra::Vector3<f64>) -> f64 {
    (x * w - y).norm_squared()
}

/// A scalar variable: the least-squares slope through the origin, a = ⟨x, y⟩ / ⟨x, x⟩.
#[gradient(wrt = a, minimize)]
fn slope(x: &DVector<f64>, a: f64, y: &DVector<f64>) -> f64 {
    (x * a - y).norm_squared()
}

/// The least-squares solution by SVD: an independent route to the same minimiser.
fn lstsq(x: &DMatrix<f64>, y: &DMatrix<f64>) -> DMatrix<f64> {
    x.clone().svd(true, true).solve(y, 1e-14).unwrap()
}

#[test]
fn ordinary_least_squares_solves_the_normal_equations() {
    let mut r = rng(80);
    let (x, y) = (mat(&mut r, 12, 4), vec(&mut r, 12));
    let w = ols_argmin(&x, &y);
    let want = lstsq(&x, &DMatrix::from_column_slice(12, 1, y.as_slice()));
    assert_close(&w, &want.column(0), 1e-10);
    assert!(ols_grad(&x, &w, &y).norm() < 1e-10);
    assert_eq!(try_ols_argmin(&x, &y).unwrap(), w);
}

#[test]
fn weighted_least_squares_matches_the_rescaled_problem() {
    let mut r = rng(81);
    let (x, y) = (mat(&mut r, 10, 3), vec(&mut r, 10));
    let d = DVector::from_fn(10, |i, _| 0.5 + i as f64 / 10.0);
    let w = wls_argmin(&x, &y, &d);
    // √d scales the rows: ‖diag(√d)(x w − y)‖², an ordinary least-squares problem.
    let sd = d.map(f64::sqrt);
    let xs = DMatrix::from_fn(10, 3, |i, j| sd[i] * x[(i, j)]);
    let ys = y.component_mul(&sd);
    let want = lstsq(&xs, &DMatrix::from_column_slice(10, 1, ys.as_slice()));
    assert_close(&w, &want.column(0), 1e-10);
}

#[test]
fn ridge_solves_the_regularised_normal_equations() {
    let mut r = rng(82);
    let (x, y) = (mat(&mut r, 8, 5), vec(&mut r, 8));
    let lambda = 0.3;
    let w = ridge_argmin(&x, &y, lambda);
    let a = x.transpose() * &x + DMatrix::identity(5, 5) * lambda;
    let want = a.lu().solve(&(x.transpose() * &y)).unwrap();
    assert_close(&w, &want, 1e-10);
    // Ridge is well posed with more unknowns than observations too.
    let (x, y) = (mat(&mut r, 3, 6), vec(&mut r, 3));
    let w = ridge_argmin(&x, &y, lambda);
    assert!(ridge_grad(&x, &w, &y, lambda).norm() < 1e-10);
}

#[test]
fn generalised_least_squares_whitens_the_residual() {
    let mut r = rng(83);
    let (x, y, s) = (mat(&mut r, 6, 3), vec(&mut r, 6), spd(&mut r, 6));
    let w = gls_argmin(&x, &y, &s);
    // xᵀS⁻¹x w = xᵀS⁻¹y, by solves with S.
    let lu = s.clone().lu();
    let (sx, sy) = (lu.solve(&x).unwrap(), lu.solve(&y).unwrap());
    let want = (x.transpose() * sx)
        .lu()
        .solve(&(x.transpose() * sy))
        .unwrap();
    assert_close(&w, &want, 1e-9);
}

#[test]
fn matrix_static_and_scalar_variables() {
    let mut r = rng(84);
    let (x, y) = (mat(&mut r, 9, 3), mat(&mut r, 9, 2));
    assert_close(&multi_argmin(&x, &y), &lstsq(&x, &y), 1e-10);

    let x3 = Matrix3x2::new(1.0, 2.0, 0.5, -1.0, 3.0, 0.25);
    let y3 = nalgebra::Vector3::new(1.0, -2.0, 0.5);
    let w: Vector2<f64> = fixed_argmin(&x3, &y3);
    assert!(fixed_grad(&x3, &w, &y3).norm() < 1e-12);

    let (xv, yv) = (vec(&mut r, 7), vec(&mut r, 7));
    assert_close_scalar(slope_argmin(&xv, &yv), xv.dot(&yv) / xv.dot(&xv), 1e-12);
}

#[test]
fn singular_hessian_and_bad_shapes_are_errors() {
    let mut r = rng(85);
    let mut x = mat(&mut r, 6, 3);
    x.set_column(2, &x.column(0).clone_owned());
    let y = vec(&mut r, 6);
    // Two equal columns: xᵀx is singular (exactly, as the columns are bit-for-bit equal).
    match try_ols_argmin(&x, &y) {
        Err(matgrad::SolveError::Singular {
            function,
            objective,
            variable,
        }) => {
            assert_eq!((function, objective, variable), ("ols_argmin", "ols", "w"));
        }
        other => panic!("expected a singular Hessian, got {other:?}"),
    }
    let err = try_ols_argmin(&x, &vec(&mut r, 5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ols_argmin: `x` has 6 rows but `y` has 5 rows"
    );
    let panic = std::panic::catch_unwind(|| ols_argmin(&x, &y)).unwrap_err();
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("ols_argmin: the Hessian of `ols` with respect to `w` is singular"),
        "{msg}"
    );
}

#[test]
fn each_minimiser_is_lower_than_its_neighbours() {
    let mut r = rng(86);
    let (x, y, d, s) = (
        mat(&mut r, 8, 3),
        vec(&mut r, 8),
        vec(&mut r, 8).abs(),
        spd(&mut r, 8),
    );
    let step = vec(&mut r, 3) * 1e-3;
    let lower = |at: f64, near: f64| assert!(at < near, "{at} is not below {near}");
    let w = ols_argmin(&x, &y);
    lower(ols(&x, &w, &y), ols(&x, &(&w + &step), &y));
    let w = wls_argmin(&x, &y, &d);
    lower(wls(&x, &w, &y, &d), wls(&x, &(&w - &step), &y, &d));
    let w = ridge_argmin(&x, &y, 0.5);
    lower(ridge(&x, &w, &y, 0.5), ridge(&x, &(&w + &step), &y, 0.5));
    let w = gls_argmin(&x, &y, &s);
    lower(gls(&x, &w, &y, &s), gls(&x, &(&w - &step), &y, &s));
    let ym = mat(&mut r, 8, 2);
    let w = multi_argmin(&x, &ym);
    lower(multi(&x, &w, &ym), multi(&x, &w.add_scalar(1e-3), &ym));
    let (x3, y3) = (
        Matrix3x2::new(1.0, 2.0, 0.5, -1.0, 3.0, 0.25),
        nalgebra::Vector3::new(1.0, -2.0, 0.5),
    );
    let w = fixed_argmin(&x3, &y3);
    lower(fixed(&x3, &w, &y3), fixed(&x3, &w.add_scalar(1e-3), &y3));
    let a = slope_argmin(&y, &x.column(0).clone_owned());
    lower(
        slope(&y, a, &x.column(0).clone_owned()),
        slope(&y, a + 1e-3, &x.column(0).clone_owned()),
    );
}
