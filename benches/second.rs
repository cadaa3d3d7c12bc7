//! Second-order benchmarks (issue 16): the `_hvp` and `_hessian` that `#[gradient(.., hessian)]`
//! emits, against closed forms in hand-written nalgebra, on the objectives and sizes of
//! `gradients.rs` that JAX's comparison times with `jvp` of `grad` and `jax.hessian`
//! (`benches/jax/`). Checked first; paired ratios generated/hand-written; criterion columns
//! `generated` and `hand_written`. Run with `cargo bench -p matgrad-benches --bench second`.

mod common;

use std::hint::black_box;

use common::*;
use criterion::{criterion_group, criterion_main};
use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};
use rand::Rng;

/// ‖Xw − y‖².
#[gradient(wrt = w, hessian)]
pub fn least_squares(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (x * w - y).norm_squared()
}

/// Σ ln(1 + exp zᵢ) − yᵀz, z = Xw.
#[gradient(wrt = w, hessian)]
pub fn logistic(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let z = x * w;
    z.map(|v| v.exp().ln_1p()).sum() - y.dot(&z)
}

/// 2Xᵀ(Xv).
fn least_squares_hvp_hand(x: &DMatrix<f64>, v: &DVector<f64>) -> DVector<f64> {
    x.tr_mul(&(x * v)) * 2.0
}

/// 2XᵀX: one gemm on a transposed view (no copy).
fn least_squares_hessian_hand(x: &DMatrix<f64>) -> DMatrix<f64> {
    transposed(x) * x * 2.0
}

/// tr(WᵀAW): A 300×300, W 300×50, as `gradients.rs` times its gradient.
#[gradient(wrt = w, hessian)]
pub fn trace_quadratic(a: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    (w.transpose() * a * w).trace()
}

/// ln det X, X 200×200 with its eigenvalues near 1.
#[gradient(wrt = x, hessian)]
pub fn log_det(x: &DMatrix<f64>) -> f64 {
    x.determinant().ln()
}

/// (A + Aᵀ)V: two gemms, the second on a transposed view (no copy).
fn trace_quadratic_hvp_hand(a: &DMatrix<f64>, v: &DMatrix<f64>) -> DMatrix<f64> {
    let mut out = a * v;
    out.gemm(1.0, &transposed(a), v, 1.0);
    out
}

/// −X⁻ᵀVᵀX⁻ᵀ = −(X⁻¹VX⁻¹)ᵀ: nalgebra's inverse (as `gradients.rs` writes its references) and
/// two gemms.
fn log_det_hvp_hand(x: &DMatrix<f64>, v: &DMatrix<f64>) -> DMatrix<f64> {
    let inv = x.clone().try_inverse().unwrap();
    -(&inv * v * &inv).transpose()
}

/// σ(Xw) ⊙ (1 − σ(Xw)), the curvature weights.
fn weights(x: &DMatrix<f64>, w: &DVector<f64>) -> DVector<f64> {
    (x * w).map(|z| {
        let s = 1.0 / (1.0 + (-z).exp());
        s * (1.0 - s)
    })
}

/// Xᵀ(d ⊙ Xv).
fn logistic_hvp_hand(x: &DMatrix<f64>, w: &DVector<f64>, v: &DVector<f64>) -> DVector<f64> {
    let mut u = x * v;
    u.component_mul_assign(&weights(x, w));
    x.tr_mul(&u)
}

/// Xᵀ diag(d) X: the rows of X scaled, then one gemm on a transposed view.
fn logistic_hessian_hand(x: &DMatrix<f64>, w: &DVector<f64>) -> DMatrix<f64> {
    let d = weights(x, w);
    let mut xd = x.clone();
    for mut c in xd.column_iter_mut() {
        c.component_mul_assign(&d);
    }
    transposed(x) * xd
}

type Criterion = criterion::Criterion<Clock>;

/// One criterion group `name` with the columns `generated` and `hand_written`, then their
/// paired ratio.
fn compare<A, B>(
    cr: &mut Criterion,
    name: &str,
    secs: f64,
    mut generated: impl FnMut() -> A,
    mut hand_written: impl FnMut() -> B,
) {
    let mut grp = cr.benchmark_group(name);
    configure(&mut grp, secs);
    bench(&mut grp, "generated", &mut generated);
    bench(&mut grp, "hand_written", &mut hand_written);
    grp.finish();
    paired(
        name,
        &mut [
            ("generated", &mut || {
                black_box(generated());
            }),
            ("hand_written", &mut || {
                black_box(hand_written());
            }),
        ],
        &[(0, 1)],
    );
}

fn bench_least_squares(cr: &mut Criterion) {
    let mut r = rng(1);
    let (x, w, y, v) = (
        mat(&mut r, 2000, 200, 1.0),
        vec(&mut r, 200, 1.0),
        vec(&mut r, 2000, 1.0),
        vec(&mut r, 200, 1.0),
    );
    check(
        "least_squares_hvp",
        &least_squares_hvp(&x, &w, &y, &v),
        &least_squares_hvp_hand(&x, &v),
        1e-10,
    );
    compare(
        cr,
        "least_squares_hvp",
        2.0,
        || least_squares_hvp(black_box(&x), black_box(&w), black_box(&y), black_box(&v)),
        || least_squares_hvp_hand(black_box(&x), black_box(&v)),
    );
    check(
        "least_squares_hessian",
        &least_squares_hessian(&x, &w, &y),
        &least_squares_hessian_hand(&x),
        1e-10,
    );
    compare(
        cr,
        "least_squares_hessian",
        3.0,
        || least_squares_hessian(black_box(&x), black_box(&w), black_box(&y)),
        || least_squares_hessian_hand(black_box(&x)),
    );
}

fn bench_logistic(cr: &mut Criterion) {
    let mut r = rng(3);
    let (x, w, v) = (
        mat(&mut r, 5000, 100, 0.3),
        vec(&mut r, 100, 1.0),
        vec(&mut r, 100, 1.0),
    );
    let y = DVector::from_fn(5000, |_, _| if r.random_bool(0.5) { 1.0 } else { 0.0 });
    check(
        "logistic_hvp",
        &logistic_hvp(&x, &w, &y, &v),
        &logistic_hvp_hand(&x, &w, &v),
        1e-10,
    );
    compare(
        cr,
        "logistic_hvp",
        2.0,
        || logistic_hvp(black_box(&x), black_box(&w), black_box(&y), black_box(&v)),
        || logistic_hvp_hand(black_box(&x), black_box(&w), black_box(&v)),
    );
    check(
        "logistic_hessian",
        &logistic_hessian(&x, &w, &y),
        &logistic_hessian_hand(&x, &w),
        1e-10,
    );
    compare(
        cr,
        "logistic_hessian",
        3.0,
        || logistic_hessian(black_box(&x), black_box(&w), black_box(&y)),
        || logistic_hessian_hand(black_box(&x), black_box(&w)),
    );
}

fn bench_trace_quadratic(cr: &mut Criterion) {
    let mut r = rng(4);
    let (a, w, v) = (
        mat(&mut r, 300, 300, 1.0),
        mat(&mut r, 300, 50, 1.0),
        mat(&mut r, 300, 50, 1.0),
    );
    check(
        "trace_quadratic_hvp",
        &trace_quadratic_hvp(&a, &w, &v),
        &trace_quadratic_hvp_hand(&a, &v),
        1e-10,
    );
    compare(
        cr,
        "trace_quadratic_hvp",
        2.0,
        || trace_quadratic_hvp(black_box(&a), black_box(&w), black_box(&v)),
        || trace_quadratic_hvp_hand(black_box(&a), black_box(&v)),
    );
}

fn bench_log_det(cr: &mut Criterion) {
    let mut r = rng(10);
    // Eigenvalues near 1, as in the JAX script: unscaled, det X would be ~1e290 here.
    let n = 200;
    let x = well_conditioned(&mut r, n) / (2.0 * (n as f64).sqrt());
    let v = mat(&mut r, n, n, 1.0);
    let want = log_det_hvp_hand(&x, &v);
    check("log_det_hvp", &log_det_hvp(&x, &v), &want, 1e-10);
    // The closed form against a central difference of the gradient X⁻ᵀ along V.
    let grad = |x: &DMatrix<f64>| x.clone().try_inverse().unwrap().transpose();
    let h = 1e-5;
    let fd = (grad(&(&x + &v * h)) - grad(&(&x - &v * h))) / (2.0 * h);
    check("log_det_hvp vs differences", &want, &fd, 1e-6);
    compare(
        cr,
        "log_det_hvp",
        2.0,
        || log_det_hvp(black_box(&x), black_box(&v)),
        || log_det_hvp_hand(black_box(&x), black_box(&v)),
    );
}

criterion_group!(
    name = benches;
    config = criterion::Criterion::default().with_measurement(Clock::from_env());
    targets = bench_least_squares, bench_logistic, bench_trace_quadratic, bench_log_det
);
criterion_main!(benches);
