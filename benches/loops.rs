//! Loop benchmarks (issue "Loops"): a recurrent network and an Euler-integrated ODE, their
//! generated gradients against hand-written adjoint code (the reference: the forward pass
//! storing the states, the adjoint recurrence backwards with rank-one updates) and num-dual,
//! side by side in one criterion run, with paired ratios (`common::paired`).
//!
//! Run with `cargo bench -p matgrad-benches --bench loops`; see docs/BENCHMARKS.md.

mod common;

use std::hint::black_box;

use common::*;
use criterion::{criterion_group, criterion_main, SamplingMode};
use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector, RealField};

/// A recurrent network: hₜ₊₁ = tanh(W hₜ + U xₜ), loss ‖h_T‖².
#[gradient(wrt = (w, u))]
pub fn rnn(w: &DMatrix<f64>, u: &DMatrix<f64>, xs: &DMatrix<f64>, h0: &DVector<f64>) -> f64 {
    let mut h = h0.clone();
    for t in 0..xs.ncols() {
        h = (w * &h + u * xs.column(t)).map(|v| v.tanh());
    }
    h.norm_squared()
}

/// The same network, with `checkpoint`: about √n stored states instead of a tape of every step.
#[gradient(wrt = (w, u), checkpoint)]
pub fn rnn_ckpt(w: &DMatrix<f64>, u: &DMatrix<f64>, xs: &DMatrix<f64>, h0: &DVector<f64>) -> f64 {
    let mut h = h0.clone();
    for t in 0..xs.ncols() {
        h = (w * &h + u * xs.column(t)).map(|v| v.tanh());
    }
    h.norm_squared()
}

/// Explicit Euler steps of y′ = A y, loss ‖y_N − target‖².
#[gradient(wrt = a)]
pub fn euler(a: &DMatrix<f64>, y0: &DVector<f64>, target: &DVector<f64>, steps: usize) -> f64 {
    let dt = 1e-3;
    let mut y = y0.clone();
    for _ in 0..steps {
        y += dt * (a * &y);
    }
    (y - target).norm_squared()
}

/// The adjoint of the recurrent network, written by hand.
fn rnn_hand(
    w: &DMatrix<f64>,
    u: &DMatrix<f64>,
    xs: &DMatrix<f64>,
    h0: &DVector<f64>,
) -> (DMatrix<f64>, DMatrix<f64>) {
    let n = xs.ncols();
    let mut hs = Vec::with_capacity(n + 1);
    hs.push(h0.clone());
    for t in 0..n {
        let mut pre = u * xs.column(t);
        pre.gemv(1.0, w, &hs[t], 1.0);
        hs.push(pre.map(|v| v.tanh()));
    }
    let mut hbar = 2.0 * &hs[n];
    let mut gw = DMatrix::zeros(w.nrows(), w.ncols());
    let mut gu = DMatrix::zeros(u.nrows(), u.ncols());
    for t in (0..n).rev() {
        let delta = hbar.zip_map(&hs[t + 1], |g, h| g * (1.0 - h * h));
        gw.ger(1.0, &delta, &hs[t], 1.0);
        gu.ger(1.0, &delta, &xs.column(t), 1.0);
        hbar = w.tr_mul(&delta);
    }
    (gw, gu)
}

/// The adjoint of the Euler steps, written by hand.
fn euler_hand(
    a: &DMatrix<f64>,
    y0: &DVector<f64>,
    target: &DVector<f64>,
    steps: usize,
) -> DMatrix<f64> {
    let dt = 1e-3;
    let mut ys = Vec::with_capacity(steps + 1);
    ys.push(y0.clone());
    for t in 0..steps {
        let mut next = ys[t].clone();
        next.gemv(dt, a, &ys[t], 1.0);
        ys.push(next);
    }
    let mut ybar = 2.0 * (&ys[steps] - target);
    let mut ga = DMatrix::zeros(a.nrows(), a.ncols());
    for t in (0..steps).rev() {
        ga.ger(dt, &ybar, &ys[t], 1.0);
        let back = a.tr_mul(&ybar);
        ybar.axpy(dt, &back, 1.0);
    }
    ga
}

fn rnn_t<T: RealField>(w: &DMatrix<T>, u: &DMatrix<T>, xs: &DMatrix<T>, h0: &DVector<T>) -> T {
    let mut h = h0.clone();
    for t in 0..xs.ncols() {
        h = (w * &h + u * xs.column(t)).map(|v| v.tanh());
    }
    h.norm_squared()
}

fn euler_t<T: RealField>(a: &DMatrix<T>, y0: &DVector<T>, target: &DVector<T>, steps: usize) -> T {
    let dt = T::from_f64(1e-3).unwrap();
    let mut y = y0.clone();
    for _ in 0..steps {
        y += (a * &y) * dt.clone();
    }
    (y - target).norm_squared()
}

const EXACT: f64 = 1e-8;

type Criterion = criterion::Criterion<Clock>;

fn bench_rnn(cr: &mut Criterion) {
    let (hidden, input, steps) = (64, 16, 100);
    let mut r = rng(21);
    let (w, u, xs, h0) = (
        mat(&mut r, hidden, hidden, 0.15),
        mat(&mut r, hidden, input, 0.3),
        mat(&mut r, input, steps, 1.0),
        vec(&mut r, hidden, 1.0),
    );
    let (gw, gu) = rnn_grad(&w, &u, &xs, &h0);
    let (hw, hu) = rnn_hand(&w, &u, &xs, &h0);
    check("rnn: generated vs hand-written (W)", &gw, &hw, EXACT);
    check("rnn: generated vs hand-written (U)", &gu, &hu, EXACT);
    let fd = central_fd(&w, |w| rnn(w, &u, &xs, &h0));
    check("rnn: finite differences (W)", &fd, &gw, 1e-6);
    let mut grp = cr.benchmark_group("rnn");
    configure(&mut grp, 2.0);
    bench(&mut grp, "generated_grad", || {
        rnn_grad(black_box(&w), black_box(&u), black_box(&xs), black_box(&h0))
    });
    bench(&mut grp, "hand_written", || {
        rnn_hand(black_box(&w), black_box(&u), black_box(&xs), black_box(&h0))
    });
    bench(&mut grp, "value", || {
        rnn(black_box(&w), black_box(&u), black_box(&xs), black_box(&h0))
    });
    let ck = rnn_ckpt_grad(&w, &u, &xs, &h0);
    assert!(
        ck.0 == gw && ck.1 == gu,
        "checkpointed gradient differs from the stored one"
    );
    eprintln!("check rnn: checkpointed gradient identical to the stored one (to the last bit)");
    bench(&mut grp, "generated_grad_checkpoint", || {
        rnn_ckpt_grad(black_box(&w), black_box(&u), black_box(&xs), black_box(&h0))
    });
    paired(
        "rnn",
        &mut [
            ("generated_grad", &mut || {
                black_box(rnn_grad(
                    black_box(&w),
                    black_box(&u),
                    black_box(&xs),
                    black_box(&h0),
                ));
            }),
            ("hand_written", &mut || {
                black_box(rnn_hand(
                    black_box(&w),
                    black_box(&u),
                    black_box(&xs),
                    black_box(&h0),
                ));
            }),
            ("generated_grad_checkpoint", &mut || {
                black_box(rnn_ckpt_grad(
                    black_box(&w),
                    black_box(&u),
                    black_box(&xs),
                    black_box(&h0),
                ));
            }),
        ],
        &[(0, 1), (2, 0)],
    );
    // num-dual carries one derivative per variable through every operation: a smaller
    // network (hidden 16, 20 steps), with the generated gradient at the same size beside it.
    let (hs, is, ts) = (16, 4, 20);
    let (ws, us, xss, h0s) = (
        mat(&mut r, hs, hs, 0.3),
        mat(&mut r, hs, is, 0.3),
        mat(&mut r, is, ts, 1.0),
        vec(&mut r, hs, 1.0),
    );
    let dual = |w: &DVector<f64>| {
        let (us_d, xs_d, h0_d) = (dual_m(&us), dual_m(&xss), dual_v(&h0s));
        dual_gradient(|w| rnn_t(&unflatten(&w, 0, hs, hs), &us_d, &xs_d, &h0_d), w)
    };
    let flat = flatten(&[ws.as_slice()]);
    let (gws, _) = rnn_grad(&ws, &us, &xss, &h0s);
    check(
        "rnn: num_dual (W)",
        &unflatten_f64(&dual(&flat), 0, hs, hs),
        &gws,
        EXACT,
    );
    grp.sampling_mode(SamplingMode::Flat);
    let size = format!("hidden{hs}x{ts}");
    bench(&mut grp, &format!("num_dual/{size}"), || {
        dual(black_box(&flat))
    });
    bench(&mut grp, &format!("generated_grad/{size}"), || {
        rnn_grad(
            black_box(&ws),
            black_box(&us),
            black_box(&xss),
            black_box(&h0s),
        )
    });
    grp.finish();
}

fn bench_euler(cr: &mut Criterion) {
    let (states, steps) = (10, 1000);
    let mut r = rng(22);
    let (a, y0, target) = (
        mat(&mut r, states, states, 0.5),
        vec(&mut r, states, 1.0),
        vec(&mut r, states, 1.0),
    );
    let g = euler_grad(&a, &y0, &target, steps);
    check(
        "euler: generated vs hand-written",
        &g,
        &euler_hand(&a, &y0, &target, steps),
        EXACT,
    );
    let fd = central_fd(&a, |a| euler(a, &y0, &target, steps));
    check("euler: finite differences", &fd, &g, 1e-6);
    let mut grp = cr.benchmark_group("euler");
    configure(&mut grp, 2.0);
    bench(&mut grp, "generated_grad", || {
        euler_grad(black_box(&a), black_box(&y0), black_box(&target), steps)
    });
    bench(&mut grp, "hand_written", || {
        euler_hand(black_box(&a), black_box(&y0), black_box(&target), steps)
    });
    bench(&mut grp, "value", || {
        euler(black_box(&a), black_box(&y0), black_box(&target), steps)
    });
    paired(
        "euler",
        &mut [
            ("generated_grad", &mut || {
                black_box(euler_grad(
                    black_box(&a),
                    black_box(&y0),
                    black_box(&target),
                    steps,
                ));
            }),
            ("hand_written", &mut || {
                black_box(euler_hand(
                    black_box(&a),
                    black_box(&y0),
                    black_box(&target),
                    steps,
                ));
            }),
        ],
        &[(0, 1)],
    );
    let (y0d, td) = (dual_v(&y0), dual_v(&target));
    let flat = flatten(&[a.as_slice()]);
    let dual = |a: &DVector<f64>| {
        dual_gradient(
            |a| euler_t(&unflatten(&a, 0, states, states), &y0d, &td, steps),
            a,
        )
    };
    check(
        "euler: num_dual",
        &unflatten_f64(&dual(&flat), 0, states, states),
        &g,
        EXACT,
    );
    grp.sampling_mode(SamplingMode::Flat);
    bench(&mut grp, &format!("num_dual/{states}x{steps}"), || {
        dual(black_box(&flat))
    });
    grp.finish();
}

fn config() -> Criterion {
    criterion::Criterion::default().with_measurement(Clock::from_env())
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_rnn, bench_euler
}
criterion_main!(benches);
