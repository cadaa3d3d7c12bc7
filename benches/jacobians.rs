//! Jacobian benchmarks (issue 7), in the setting of the gradient benchmarks (issue 5): per
//! objective, side by side in one criterion run,
//!
//! - `generated_jacobian`:           the `<name>_jacobian` that `#[jacobian]` emits;
//! - `generated_value_and_jacobian`: the `<name>_value_and_jacobian` it emits;
//! - `value`:                        the function alone;
//! - `hand_written`:                 a closed-form Jacobian in careful nalgebra (the reference);
//! - `num_dual/<size>`:              forward-mode AD with num-dual (`num_dual::jacobian`,
//!   `DualDVec64`) over the same expression;
//! - `finite_differences/<size>`:    central differences of the function (2 evaluations per
//!   entry of the variable);
//! - `generated_jacobian/<size>`:    the generated Jacobian again at a smaller size, where
//!   num-dual is also timed at that size, so that their ratio compares like with like.
//!
//! Every group first checks that the generated Jacobian matches the hand-written one (and the
//! num-dual and finite-difference ones), so a benchmark never times a wrong Jacobian.
//!
//! Times are the CPU time of the benchmarking thread (see `common::Clock`;
//! `MATGRAD_BENCH_CLOCK=wall` for wall-clock time). Each group also prints `paired ratio:`
//! lines, generated/hand-written and value_and_jacobian/value (and hand-written/value, the
//! floor for the latter) measured interleaved, which drifting load cannot bias (see
//! `common::paired`). Run with `cargo bench -p matgrad-benches --bench jacobians`; see docs/BENCHMARKS.md.

mod common;

use std::hint::black_box;

use common::*;
use criterion::{criterion_group, criterion_main, SamplingMode};
use matgrad::jacobian;
use matgrad::nalgebra::{DMatrix, DVector, RealField};

// ---------------------------------------------------------------------------------------------
// The objectives, as a user would write them.
// ---------------------------------------------------------------------------------------------

/// Exponential-decay residuals p₀ exp(−p₁ t) + p₂ − y, one per observation.
#[jacobian(wrt = p)]
pub fn exp_decay(p: &DVector<f64>, t: &DVector<f64>, y: &DVector<f64>) -> DVector<f64> {
    (t * -p[1]).map(|v| v.exp()) * p[0] + DVector::from_element(t.len(), 1.0) * p[2] - y
}

/// A tanh layer, tanh(W x), differentiated with respect to its input.
#[jacobian(wrt = x)]
pub fn tanh_layer(w: &DMatrix<f64>, x: &DVector<f64>) -> DVector<f64> {
    (w * x).map(|v| v.tanh())
}

// ---------------------------------------------------------------------------------------------
// The same expressions, generic over the scalar, for num-dual.
// ---------------------------------------------------------------------------------------------

fn exp_decay_t<T: RealField>(p: &DVector<T>, t: &DVector<T>, y: &DVector<T>) -> DVector<T> {
    (t * -p[1].clone()).map(|v| v.exp()) * p[0].clone()
        + DVector::from_element(t.len(), T::one()) * p[2].clone()
        - y
}

fn tanh_layer_t<T: RealField>(w: &DMatrix<T>, x: &DVector<T>) -> DVector<T> {
    (w * x).map(|v| v.tanh())
}

// ---------------------------------------------------------------------------------------------
// The hand-written Jacobians: the references.
// ---------------------------------------------------------------------------------------------

/// [exp(−p₁t), −p₀ t ⊙ exp(−p₁t), 1], filled column by column in one pass over t: the m×3
/// result is created as ones (the third column), and the first two columns are written as
/// slices, one exp per observation.
fn exp_decay_hand(p: &DVector<f64>, t: &DVector<f64>, _y: &DVector<f64>) -> DMatrix<f64> {
    let m = t.len();
    let (p0, p1) = (p[0], p[1]);
    let mut j = DMatrix::from_element(m, 3, 1.0);
    let (e, rest) = j.as_mut_slice().split_at_mut(m);
    for ((e, de), &ti) in e.iter_mut().zip(&mut rest[..m]).zip(t.as_slice()) {
        let v = (ti * -p1).exp();
        *e = v;
        *de = -p0 * ti * v;
    }
    j
}

/// diag(1 − tanh²(Wx)) W: one gemv, d = 1 − tanh² in place, then every entry of the result
/// written once, column by column, as the product of W's column with d (slices, so that the
/// loop vectorises), into a buffer that is never zeroed.
fn tanh_layer_hand(w: &DMatrix<f64>, x: &DVector<f64>) -> DMatrix<f64> {
    let mut d = w * x;
    d.apply(|s| {
        let h = s.tanh();
        *s = 1.0 - h * h;
    });
    let d = d.as_slice();
    let mut j = Vec::with_capacity(w.len());
    for col in w.as_slice().chunks_exact(d.len()) {
        j.extend(col.iter().zip(d).map(|(a, b)| a * b));
    }
    DMatrix::from_vec(w.nrows(), w.ncols(), j)
}

/// The same Jacobian the way `matgrad::__private::row_scale` (the generated code) builds it: W
/// cloned, then each column scaled in place by d (`component_mul_assign`). Two passes over the
/// 1 MB result instead of one; shown for information, as `hand_written_clone_then_scale`.
fn tanh_layer_hand_clone(w: &DMatrix<f64>, x: &DVector<f64>) -> DMatrix<f64> {
    let mut d = w * x;
    d.apply(|s| {
        let h = s.tanh();
        *s = 1.0 - h * h;
    });
    let mut j = w.clone();
    for mut col in j.column_iter_mut() {
        col.component_mul_assign(&d);
    }
    j
}

// ---------------------------------------------------------------------------------------------
// The groups.
// ---------------------------------------------------------------------------------------------

/// Tolerance of the generated Jacobian against the hand-written one, and of num-dual (exact up
/// to rounding) against the generated one.
const EXACT: f64 = 1e-10;
/// Tolerance of central differences against the generated Jacobian.
const FD: f64 = 1e-6;

type Criterion = criterion::Criterion<Clock>;

/// The common columns of a group: checks, the four full-size benchmarks, the paired ratios.
/// Returns the generated Jacobian.
macro_rules! main_columns {
    ($grp:ident, $name:literal, $f:ident, $jac:ident, $vj:ident, $hand:ident, ($($arg:expr),*)) => {{
        let j = $jac($($arg),*);
        check(concat!($name, ": generated vs hand-written"), &j, &$hand($($arg),*), EXACT);
        let (value, j2) = $vj($($arg),*);
        check(concat!($name, ": value_and_jacobian value"), &value, &$f($($arg),*), 1e-14);
        check(concat!($name, ": value_and_jacobian Jacobian"), &j2, &j, 1e-14);
        bench(&mut $grp, "generated_jacobian", || $jac($(black_box($arg)),*));
        bench(&mut $grp, "generated_value_and_jacobian", || $vj($(black_box($arg)),*));
        bench(&mut $grp, "value", || $f($(black_box($arg)),*));
        bench(&mut $grp, "hand_written", || $hand($(black_box($arg)),*));
        paired(
            $name,
            &mut [
                ("generated_jacobian", &mut || { black_box($jac($(black_box($arg)),*)); }),
                ("hand_written", &mut || { black_box($hand($(black_box($arg)),*)); }),
                ("generated_value_and_jacobian", &mut || { black_box($vj($(black_box($arg)),*)); }),
                ("value", &mut || { black_box($f($(black_box($arg)),*)); }),
            ],
            &[(0, 1), (2, 3), (1, 3)],
        );
        j
    }};
}

fn bench_exp_decay(cr: &mut Criterion) {
    let m = 1000;
    let mut r = rng(101);
    let t = DVector::from_fn(m, |i, _| 5.0 * i as f64 / (m - 1) as f64);
    let p = DVector::from_vec(vec![2.0, 0.7, 0.3]);
    let y = t.map(|ti| 2.5 * (-0.6 * ti).exp() + 0.2) + vec(&mut r, m, 0.05);
    let mut grp = cr.benchmark_group("exp_decay_jacobian");
    configure(&mut grp, 2.0);
    let j = main_columns!(
        grp,
        "exp_decay_jacobian",
        exp_decay,
        exp_decay_jacobian,
        exp_decay_value_and_jacobian,
        exp_decay_hand,
        (&p, &t, &y)
    );
    let (td, yd) = (dual_v(&t), dual_v(&y));
    let dual = |p: &DVector<f64>| dual_jacobian(|p| exp_decay_t(&p, &td, &yd), p);
    let fd = |p: &DVector<f64>| central_fd_jacobian(p, |p| exp_decay(p, &t, &y));
    check("exp_decay_jacobian: num_dual", &dual(&p), &j, EXACT);
    check("exp_decay_jacobian: finite differences", &fd(&p), &j, FD);
    let size = format!("{m}x3");
    grp.sampling_mode(SamplingMode::Flat);
    bench(&mut grp, &format!("num_dual/{size}"), || {
        dual(black_box(&p))
    });
    bench(&mut grp, &format!("finite_differences/{size}"), || {
        fd(black_box(&p))
    });
    grp.finish();
}

fn bench_tanh_layer(cr: &mut Criterion) {
    let (h, d) = (256, 512);
    let mut r = rng(102);
    let w = mat(&mut r, h, d, 1.0 / (d as f64).sqrt());
    let x = vec(&mut r, d, 1.0);
    let mut grp = cr.benchmark_group("tanh_layer_jacobian");
    configure(&mut grp, 2.0);
    let j = main_columns!(
        grp,
        "tanh_layer_jacobian",
        tanh_layer,
        tanh_layer_jacobian,
        tanh_layer_value_and_jacobian,
        tanh_layer_hand,
        (&w, &x)
    );
    check(
        "tanh_layer_jacobian: hand-written, clone then scale",
        &tanh_layer_hand_clone(&w, &x),
        &j,
        EXACT,
    );
    bench(&mut grp, "hand_written_clone_then_scale", || {
        tanh_layer_hand_clone(black_box(&w), black_box(&x))
    });
    paired(
        "tanh_layer_jacobian",
        &mut [
            ("hand_written_clone_then_scale", &mut || {
                black_box(tanh_layer_hand_clone(black_box(&w), black_box(&x)));
            }),
            ("hand_written", &mut || {
                black_box(tanh_layer_hand(black_box(&w), black_box(&x)));
            }),
        ],
        &[(0, 1)],
    );
    let fd = |x: &DVector<f64>| central_fd_jacobian(x, |x| tanh_layer(&w, x));
    check("tanh_layer_jacobian: finite differences", &fd(&x), &j, FD);
    // num-dual carries a 512-entry derivative vector through each of the 131 072 scalar
    // products of W x: ≈ 0.2 s a call at full size, so it is also timed at a smaller size, with
    // the generated Jacobian at that size beside it.
    let wd = dual_m(&w);
    let dual_full = |x: &DVector<f64>| dual_jacobian(|x| tanh_layer_t(&wd, &x), x);
    check("tanh_layer_jacobian: num_dual", &dual_full(&x), &j, EXACT);
    let (sh, sd) = (64, 128);
    let ws = mat(&mut r, sh, sd, 1.0 / (sd as f64).sqrt());
    let xs = vec(&mut r, sd, 1.0);
    let js = tanh_layer_jacobian(&ws, &xs);
    let wsd = dual_m(&ws);
    let dual = |x: &DVector<f64>| dual_jacobian(|x| tanh_layer_t(&wsd, &x), x);
    check(
        "tanh_layer_jacobian: num_dual (small)",
        &dual(&xs),
        &js,
        EXACT,
    );
    let size = format!("{h}x{d}");
    let small = format!("{sh}x{sd}");
    bench(&mut grp, &format!("generated_jacobian/{small}"), || {
        tanh_layer_jacobian(black_box(&ws), black_box(&xs))
    });
    grp.sampling_mode(SamplingMode::Flat);
    bench(&mut grp, &format!("num_dual/{small}"), || {
        dual(black_box(&xs))
    });
    bench(&mut grp, &format!("num_dual/{size}"), || {
        dual_full(black_box(&x))
    });
    bench(&mut grp, &format!("finite_differences/{size}"), || {
        fd(black_box(&x))
    });
    grp.finish();
}

criterion_group!(
    name = benches;
    config = criterion::Criterion::default().with_measurement(Clock::from_env());
    targets = bench_exp_decay, bench_tanh_layer
);
criterion_main!(benches);
