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
    let mut grp = cr.benchmark_group("least_squares_hvp");
    configure(&mut grp, 2.0);
    bench(&mut grp, "generated", || {
        least_squares_hvp(black_box(&x), black_box(&w), black_box(&y), black_box(&v))
    });
    bench(&mut grp, "hand_written", || {
        least_squares_hvp_hand(black_box(&x), black_box(&v))
    });
    grp.finish();
    paired(
        "least_squares_hvp",
        &mut [
            ("generated", &mut || {
                black_box(least_squares_hvp(
                    black_box(&x),
                    black_box(&w),
                    black_box(&y),
                    black_box(&v),
                ));
            }),
            ("hand_written", &mut || {
                black_box(least_squares_hvp_hand(black_box(&x), black_box(&v)));
            }),
        ],
        &[(0, 1)],
    );
    check(
        "least_squares_hessian",
        &least_squares_hessian(&x, &w, &y),
        &least_squares_hessian_hand(&x),
        1e-10,
    );
    let mut grp = cr.benchmark_group("least_squares_hessian");
    configure(&mut grp, 3.0);
    bench(&mut grp, "generated", || {
        least_squares_hessian(black_box(&x), black_box(&w), black_box(&y))
    });
    bench(&mut grp, "hand_written", || {
        least_squares_hessian_hand(black_box(&x))
    });
    grp.finish();
    paired(
        "least_squares_hessian",
        &mut [
            ("generated", &mut || {
                black_box(least_squares_hessian(
                    black_box(&x),
                    black_box(&w),
                    black_box(&y),
                ));
            }),
            ("hand_written", &mut || {
                black_box(least_squares_hessian_hand(black_box(&x)));
            }),
        ],
        &[(0, 1)],
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
    let mut grp = cr.benchmark_group("logistic_hvp");
    configure(&mut grp, 2.0);
    bench(&mut grp, "generated", || {
        logistic_hvp(black_box(&x), black_box(&w), black_box(&y), black_box(&v))
    });
    bench(&mut grp, "hand_written", || {
        logistic_hvp_hand(black_box(&x), black_box(&w), black_box(&v))
    });
    grp.finish();
    paired(
        "logistic_hvp",
        &mut [
            ("generated", &mut || {
                black_box(logistic_hvp(
                    black_box(&x),
                    black_box(&w),
                    black_box(&y),
                    black_box(&v),
                ));
            }),
            ("hand_written", &mut || {
                black_box(logistic_hvp_hand(
                    black_box(&x),
                    black_box(&w),
                    black_box(&v),
                ));
            }),
        ],
        &[(0, 1)],
    );
    check(
        "logistic_hessian",
        &logistic_hessian(&x, &w, &y),
        &logistic_hessian_hand(&x, &w),
        1e-10,
    );
    let mut grp = cr.benchmark_group("logistic_hessian");
    configure(&mut grp, 3.0);
    bench(&mut grp, "generated", || {
        logistic_hessian(black_box(&x), black_box(&w), black_box(&y))
    });
    bench(&mut grp, "hand_written", || {
        logistic_hessian_hand(black_box(&x), black_box(&w))
    });
    grp.finish();
    paired(
        "logistic_hessian",
        &mut [
            ("generated", &mut || {
                black_box(logistic_hessian(
                    black_box(&x),
                    black_box(&w),
                    black_box(&y),
                ));
            }),
            ("hand_written", &mut || {
                black_box(logistic_hessian_hand(black_box(&x), black_box(&w)));
            }),
        ],
        &[(0, 1)],
    );
}

criterion_group!(
    name = benches;
    config = criterion::Criterion::default().with_measurement(Clock::from_env());
    targets = bench_least_squares, bench_logistic
);
criterion_main!(benches);
