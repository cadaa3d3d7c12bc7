//! Helpers shared by the integration tests: seeded random inputs and central differences.

#![allow(dead_code)]

use matgrad::nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn mat(rng: &mut StdRng, r: usize, c: usize) -> DMatrix<f64> {
    DMatrix::from_fn(r, c, |_, _| rng.random_range(-1.0..1.0))
}

pub fn vec(rng: &mut StdRng, n: usize) -> DVector<f64> {
    DVector::from_fn(n, |_, _| rng.random_range(-1.0..1.0))
}

/// A well-conditioned square matrix: identity-dominated plus noise.
pub fn well_conditioned(rng: &mut StdRng, n: usize) -> DMatrix<f64> {
    DMatrix::identity(n, n) * 2.0 + mat(rng, n, n) * 0.5
}

/// A symmetric positive definite matrix.
pub fn spd(rng: &mut StdRng, n: usize) -> DMatrix<f64> {
    let a = mat(rng, n, n);
    &a * a.transpose() + DMatrix::identity(n, n) * (n as f64)
}

/// Central finite differences of `f` with respect to every entry of `x`, in the shape of `x`.
pub fn fd<R: nalgebra::Dim, C: nalgebra::Dim>(
    x: &nalgebra::OMatrix<f64, R, C>,
    f: impl Fn(&nalgebra::OMatrix<f64, R, C>) -> f64,
) -> nalgebra::OMatrix<f64, R, C>
where
    nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<R, C>,
{
    let mut g = x.clone();
    for k in 0..x.len() {
        let h = 1e-6 * x[k].abs().max(1.0);
        let mut xp = x.clone();
        xp[k] += h;
        let mut xm = x.clone();
        xm[k] -= h;
        g[k] = (f(&xp) - f(&xm)) / (2.0 * h);
    }
    g
}

/// Central finite difference of a scalar function of a scalar.
pub fn fd_scalar(x: f64, f: impl Fn(f64) -> f64) -> f64 {
    let h = 1e-6 * x.abs().max(1.0);
    (f(x + h) - f(x - h)) / (2.0 * h)
}

/// Assert two matrices agree to a relative tolerance (relative to max(1, |entry|)).
#[track_caller]
pub fn assert_close<R: nalgebra::Dim, C: nalgebra::Dim, S1, S2>(
    got: &nalgebra::Matrix<f64, R, C, S1>,
    want: &nalgebra::Matrix<f64, R, C, S2>,
    tol: f64,
) where
    S1: nalgebra::RawStorage<f64, R, C>,
    S2: nalgebra::RawStorage<f64, R, C>,
{
    assert_eq!(got.shape(), want.shape(), "shapes differ");
    for (k, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        let err = (g - w).abs() / w.abs().max(1.0);
        assert!(err <= tol, "entry {k}: got {g}, want {w} (relative error {err:.2e} > {tol:.0e})\ngot:{got}want:{want}");
    }
}

#[track_caller]
pub fn assert_close_scalar(got: f64, want: f64, tol: f64) {
    let err = (got - want).abs() / want.abs().max(1.0);
    assert!(
        err <= tol,
        "got {got}, want {want} (relative error {err:.2e} > {tol:.0e})"
    );
}

/// A uniform number in [-1, 1), for filling static matrices.
pub trait RandomUnit {
    fn random_unit(&mut self) -> f64;
}

impl RandomUnit for StdRng {
    fn random_unit(&mut self) -> f64 {
        self.random_range(-1.0..1.0)
    }
}

/// Central differences of a matrix-valued function: the numerator-layout Jacobian, one row per
/// entry of vec(f), one column per entry of vec(x).
pub fn fd_jacobian(x: &DMatrix<f64>, f: &dyn Fn(&DMatrix<f64>) -> DMatrix<f64>) -> DMatrix<f64> {
    let m = f(x).len();
    let mut j = DMatrix::zeros(m, x.len());
    for k in 0..x.len() {
        let h = 1e-6 * x[k].abs().max(1.0);
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[k] += h;
        xm[k] -= h;
        let col = (f(&xp) - f(&xm)) / (2.0 * h);
        for (r, v) in col.iter().enumerate() {
            j[(r, k)] = *v;
        }
    }
    j
}
