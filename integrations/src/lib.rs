//! Helpers shared by the tests and examples of matgrad with levenberg-marquardt and argmin.

use nalgebra::{allocator::Allocator, DefaultAllocator, Dim, OMatrix};

/// The Jacobian of `f` at `x` (numerator layout: one row per entry of f) by central
/// differences, with a step scaled to each entry.
pub fn central_jacobian<R: Dim, C: Dim>(
    x: &nalgebra::DVector<f64>,
    f: impl Fn(&nalgebra::DVector<f64>) -> OMatrix<f64, R, C>,
) -> nalgebra::DMatrix<f64>
where
    DefaultAllocator: Allocator<R, C>,
{
    let m = f(x).len();
    let mut j = nalgebra::DMatrix::zeros(m, x.len());
    for k in 0..x.len() {
        let h = 1e-6 * x[k].abs().max(1.0);
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[k] += h;
        xm[k] -= h;
        let d = (f(&xp) - f(&xm)) / (2.0 * h);
        j.column_mut(k).copy_from_slice(d.as_slice());
    }
    j
}

/// The largest entrywise difference of two equally sized matrices, relative to max(1, |want|).
pub fn relative_error<R: Dim, C: Dim, S1, S2>(
    got: &nalgebra::Matrix<f64, R, C, S1>,
    want: &nalgebra::Matrix<f64, R, C, S2>,
) -> f64
where
    S1: nalgebra::RawStorage<f64, R, C>,
    S2: nalgebra::RawStorage<f64, R, C>,
{
    assert_eq!(got.shape(), want.shape(), "shapes differ");
    got.iter()
        .zip(want.iter())
        .map(|(g, w)| (g - w).abs() / w.abs().max(1.0))
        .fold(0.0, f64::max)
}

/// A deterministic pseudo-random number in [−1, 1) for the index `k` (SplitMix64), so that the
/// tests' and examples' data are irregular (full rank) without a random-number crate.
pub fn noise(k: u64) -> f64 {
    let mut z = k.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// `#[differentiable]` helpers that another crate calls (the tests of this package are that
/// crate): kernels of a Gaussian process.
pub mod kernels {
    use matgrad::differentiable;
    use nalgebra::DVector;

    /// ‖a − b‖².
    #[differentiable]
    pub fn squared_distance(a: &DVector<f64>, b: &DVector<f64>) -> f64 {
        (a - b).norm_squared()
    }

    /// The squared-exponential kernel, through the helper above.
    #[differentiable]
    pub fn se(a: &DVector<f64>, b: &DVector<f64>, ell: f64) -> f64 {
        (-squared_distance(a, b) / (2.0 * ell * ell)).exp()
    }
}
