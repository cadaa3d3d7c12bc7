//! Gradient benchmarks (issue 5): per objective, side by side in one criterion run,
//!
//! - `generated_grad`:        the `<name>_grad` that `#[gradient]` emits;
//! - `generated_value_and_grad`: the `<name>_value_and_grad` it emits;
//! - `value`:                 the function alone;
//! - `hand_written`:          a closed-form gradient in careful nalgebra (the reference);
//! - `num_dual/<size>`:       forward-mode AD with num-dual (`DualDVec64`) over the same expression;
//! - `finite_differences/<size>`: central differences of the function (2 evaluations per entry);
//! - `generated_grad/<size>`: the generated gradient again at the size of the two columns above,
//!   where that size is smaller than the main one, so that their ratios compare like with like.
//!
//! Every group first checks that the generated gradient matches the hand-written one (and the
//! num-dual and finite-difference ones at their sizes), so a benchmark never times a wrong
//! gradient.
//!
//! Times are the CPU time of the benchmarking thread, which other processes on a shared machine
//! do not inflate; `MATGRAD_BENCH_CLOCK=wall` measures wall-clock time instead (everything here
//! is single-threaded, so the two agree on an idle machine). Each group also prints `paired
//! ratio:` lines, generated/hand-written and value_and_grad/value measured interleaved, which
//! drifting load cannot bias (see `common::paired`). Run with `cargo bench -p matgrad-benches --bench gradients`;
//! see docs/BENCHMARKS.md.

mod common;

use std::hint::black_box;

use common::*;
use criterion::{criterion_group, criterion_main, SamplingMode};
use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector, Dyn, Matrix3, Matrix3x2, RealField, Vector2, Vector3};
use rand::Rng;

// ---------------------------------------------------------------------------------------------
// The objectives, as a user would write them.
// ---------------------------------------------------------------------------------------------

/// ‖Xw − y‖².
#[gradient(wrt = w)]
pub fn least_squares(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (x * w - y).norm_squared()
}

/// ‖Xw − y‖² + λ‖w‖².
#[gradient(wrt = w)]
pub fn ridge(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>, lambda: f64) -> f64 {
    (x * w - y).norm_squared() + lambda * w.norm_squared()
}

/// Σ ln(1 + exp zᵢ) − yᵀz, z = Xw.
#[gradient(wrt = w)]
pub fn logistic(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let z = x * w;
    z.map(|v| v.exp().ln_1p()).sum() - y.dot(&z)
}

/// tr(WᵀAW).
#[gradient(wrt = w)]
pub fn trace_quadratic(a: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    (w.transpose() * a * w).trace()
}

/// ‖Y − UVᵀ‖²_F.
#[gradient(wrt = (u, v))]
pub fn factorization(y: &DMatrix<f64>, u: &DMatrix<f64>, v: &DMatrix<f64>) -> f64 {
    (y - u * v.transpose()).norm_squared()
}

/// ½ ln det Σ + ½ (x − μ)ᵀ Σ⁻¹ (x − μ).
#[gradient(wrt = sigma)]
pub fn gaussian_nll(x: &DVector<f64>, mu: &DVector<f64>, sigma: &DMatrix<f64>) -> f64 {
    let r = x - mu;
    0.5 * sigma.determinant().ln() + 0.5 * r.dot(&(sigma.clone().try_inverse().unwrap() * &r))
}

/// aᵀ X⁻¹ b.
#[gradient(wrt = x)]
pub fn bilinear_inverse(a: &DVector<f64>, x: &DMatrix<f64>, b: &DVector<f64>) -> f64 {
    a.dot(&(x.clone().try_inverse().unwrap() * b))
}

/// tr(X⁶).
#[gradient(wrt = x)]
pub fn trace_sixth_power(x: &DMatrix<f64>) -> f64 {
    (x * x * x * x * x * x).trace()
}

/// ‖V tanh(W x) − t‖².
#[gradient(wrt = (w, v))]
pub fn tanh_layer(w: &DMatrix<f64>, v: &DMatrix<f64>, x: &DVector<f64>, t: &DVector<f64>) -> f64 {
    (v * (w * x).map(|s| s.tanh()) - t).norm_squared()
}

// ---------------------------------------------------------------------------------------------
// The same expressions, generic over the scalar, for num-dual.
// ---------------------------------------------------------------------------------------------

fn c<T: RealField>(v: f64) -> T {
    matgrad::nalgebra::convert(v)
}

fn least_squares_t<T: RealField>(x: &DMatrix<T>, w: &DVector<T>, y: &DVector<T>) -> T {
    (x * w - y).norm_squared()
}

fn ridge_t<T: RealField>(x: &DMatrix<T>, w: &DVector<T>, y: &DVector<T>, lambda: f64) -> T {
    (x * w - y).norm_squared() + c::<T>(lambda) * w.norm_squared()
}

fn logistic_t<T: RealField>(x: &DMatrix<T>, w: &DVector<T>, y: &DVector<T>) -> T {
    let z = x * w;
    z.map(|v| v.exp().ln_1p()).sum() - y.dot(&z)
}

fn trace_quadratic_t<T: RealField>(a: &DMatrix<T>, w: &DMatrix<T>) -> T {
    (w.transpose() * a * w).trace()
}

fn factorization_t<T: RealField>(y: &DMatrix<T>, u: &DMatrix<T>, v: &DMatrix<T>) -> T {
    (y - u * v.transpose()).norm_squared()
}

fn gaussian_nll_t<T: RealField>(x: &DVector<T>, mu: &DVector<T>, sigma: &DMatrix<T>) -> T {
    let r = x - mu;
    c::<T>(0.5) * sigma.determinant().ln()
        + c::<T>(0.5) * r.dot(&(sigma.clone().try_inverse().unwrap() * &r))
}

fn bilinear_inverse_t<T: RealField>(a: &DVector<T>, x: &DMatrix<T>, b: &DVector<T>) -> T {
    a.dot(&(x.clone().try_inverse().unwrap() * b))
}

fn trace_sixth_power_t<T: RealField>(x: &DMatrix<T>) -> T {
    (x * x * x * x * x * x).trace()
}

fn tanh_layer_t<T: RealField>(w: &DMatrix<T>, v: &DMatrix<T>, x: &DVector<T>, t: &DVector<T>) -> T {
    (v * (w * x).map(|s| s.tanh()) - t).norm_squared()
}

// ---------------------------------------------------------------------------------------------
// Hand-written closed-form gradients: the reference.
// ---------------------------------------------------------------------------------------------

/// 2Xᵀ(Xw − y): one gemv, one transposed gemv (`tr_mul` is a gemv-transpose for a vector),
/// no transposed copy of X, the residual and the scaling in place.
fn least_squares_hand(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> DVector<f64> {
    let mut r = x * w;
    r -= y;
    let mut g = x.tr_mul(&r);
    g *= 2.0;
    g
}

/// 2Xᵀ(Xw − y) + 2λw, the λ term added in place.
fn ridge_hand(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>, lambda: f64) -> DVector<f64> {
    let mut r = x * w;
    r -= y;
    let mut g = x.tr_mul(&r);
    g.axpy(2.0 * lambda, w, 2.0);
    g
}

/// Xᵀ(σ(Xw) − y), σ(z) − y computed in place in z.
fn logistic_hand(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> DVector<f64> {
    let mut z = x * w;
    z.zip_apply(y, |z, y| *z = 1.0 / (1.0 + (-*z).exp()) - y);
    x.tr_mul(&z)
}

/// (A + Aᵀ)W: one n×n transpose-add, one gemm (half the flops of AW + AᵀW).
fn trace_quadratic_hand(a: &DMatrix<f64>, w: &DMatrix<f64>) -> DMatrix<f64> {
    let mut s = a.transpose();
    s += a;
    &s * w
}

/// R = 2(UVᵀ − Y) (one gemm into a copy of Y, on a strided transposed view of V),
/// ∂U = RV, ∂V = RᵀU (gemm on a transposed view of R: no copy, no `tr_mul`).
fn factorization_hand(
    y: &DMatrix<f64>,
    u: &DMatrix<f64>,
    v: &DMatrix<f64>,
) -> (DMatrix<f64>, DMatrix<f64>) {
    let mut r = y.clone();
    r.gemm(2.0, u, &transposed(v), -2.0);
    (&r * v, transposed(&r) * u)
}

/// ½Σ⁻ᵀ − ½(Σ⁻ᵀr)(Σ⁻¹r)ᵀ for any invertible Σ (the contract of the generated code): one LU
/// (of Σᵀ, so that the inverse is Σ⁻ᵀ directly), the inverse from it, two gemv and a rank-one
/// update in place.
fn gaussian_nll_hand(x: &DVector<f64>, mu: &DVector<f64>, sigma: &DMatrix<f64>) -> DMatrix<f64> {
    let r = x - mu;
    let mut g = sigma.transpose().lu().try_inverse().expect("singular Σ"); // Σ⁻ᵀ
    let a = &g * &r; // Σ⁻ᵀ r
    let b = g.tr_mul(&r); // Σ⁻¹ r
    g.ger(-0.5, &a, &b, 0.5);
    g
}

/// The same for a symmetric positive definite Σ: ½(Σ⁻¹ − ssᵀ), s = Σ⁻¹r, through Cholesky.
/// Not the reference (the generated code cannot assume symmetry); shown for information.
fn gaussian_nll_hand_cholesky(
    x: &DVector<f64>,
    mu: &DVector<f64>,
    sigma: &DMatrix<f64>,
) -> DMatrix<f64> {
    let r = x - mu;
    let mut inv = sigma.clone().cholesky().expect("Σ not SPD").inverse();
    let s = &inv * &r;
    inv.ger(-0.5, &s, &s, 0.5);
    inv
}

/// −(X⁻ᵀa)(X⁻¹b)ᵀ: one LU, a solve and a transposed solve with its packed factors, one outer
/// product. X⁻¹ is never formed, and neither are L and U as matrices of their own: extracting
/// them (`l()`, `u()`, `unpack()`) costs two fresh n×n buffers, ≈ 25% of this gradient at n = 200.
/// (`LU::lu_internal` is public but hidden from nalgebra's docs.)
fn bilinear_inverse_hand(a: &DVector<f64>, x: &DMatrix<f64>, b: &DVector<f64>) -> DMatrix<f64> {
    let lu = x.clone().lu(); // PX = LU, packed: U on and above the diagonal, unit-diagonal L below
    let u = lu.solve(b).expect("singular X"); // X⁻¹ b
    let f = lu.lu_internal();
    let n = f.nrows();
    let mut v = f.tr_solve_upper_triangular(a).expect("singular X"); // U⁻ᵀ a
    for i in (0..n.saturating_sub(1)).rev() {
        // L⁻ᵀ, unit diagonal: vᵢ −= Σₖ₍ₖ>ᵢ₎ Lₖᵢ vₖ
        let s = f
            .view((i + 1, i), (n - i - 1, 1))
            .dot(&v.rows(i + 1, n - i - 1));
        v[i] -= s;
    }
    lu.p().inv_permute_rows(&mut v); // X⁻ᵀ a
    v.neg_mut();
    v * u.transpose()
}

/// 6(X⁵)ᵀ = 6(Xᵀ)⁴Xᵀ: three gemm on the transposed view, X²·X² reused.
fn trace_sixth_power_hand(x: &DMatrix<f64>) -> DMatrix<f64> {
    let xt = transposed(x);
    let mut x2 = xt * xt;
    let x4 = &x2 * &x2;
    x2.gemm(6.0, &x4, &xt, 0.0);
    x2
}

/// h = tanh(Wx), r = Vh − t; ∂V = 2rhᵀ, ∂W = (2Vᵀr ⊙ (1 − h²)) xᵀ: two gemv, one transposed
/// gemv, two outer products (into uninitialised outputs: zeroing a 256×512 buffer first costs
/// as much as the product).
fn tanh_layer_hand(
    w: &DMatrix<f64>,
    v: &DMatrix<f64>,
    x: &DVector<f64>,
    t: &DVector<f64>,
) -> (DMatrix<f64>, DMatrix<f64>) {
    let mut h = w * x;
    h.apply(|s| *s = s.tanh());
    let mut r = t.clone();
    r.gemv(2.0, v, &h, -2.0); // 2(Vh − t)
    let gv = &r * h.transpose();
    let mut hbar = v.tr_mul(&r);
    hbar.zip_apply(&h, |d, h| *d *= 1.0 - h * h);
    let gw = hbar * x.transpose();
    (gw, gv)
}

// ---------------------------------------------------------------------------------------------
// The groups.
// ---------------------------------------------------------------------------------------------

/// Tolerance of the generated gradient against the hand-written one, and of num-dual (exact
/// up to rounding) against the generated one.
const EXACT: f64 = 1e-8;
/// Tolerance of central differences against the generated gradient.
const FD: f64 = 1e-6;

/// The common columns of a group whose gradient is one value: checks, then the four full-size
/// benchmarks.
macro_rules! main_columns {
    ($grp:ident, $name:literal, $f:ident, $grad:ident, $vg:ident, $hand:ident, ($($arg:expr),*)) => {{
        let g = $grad($($arg),*);
        check(concat!($name, ": generated vs hand-written"), &g, &$hand($($arg),*), EXACT);
        let (value, g2) = $vg($($arg),*);
        check_scalar(concat!($name, ": value_and_grad value"), value, $f($($arg),*), 1e-12);
        check(concat!($name, ": value_and_grad gradient"), &g2, &g, 1e-14);
        bench(&mut $grp, "generated_grad", || $grad($(black_box($arg)),*));
        bench(&mut $grp, "generated_value_and_grad", || $vg($(black_box($arg)),*));
        bench(&mut $grp, "value", || $f($(black_box($arg)),*));
        bench(&mut $grp, "hand_written", || $hand($(black_box($arg)),*));
        paired(
            $name,
            &mut [
                ("generated_grad", &mut || { black_box($grad($(black_box($arg)),*)); }),
                ("hand_written", &mut || { black_box($hand($(black_box($arg)),*)); }),
                ("generated_value_and_grad", &mut || { black_box($vg($(black_box($arg)),*)); }),
                ("value", &mut || { black_box($f($(black_box($arg)),*)); }),
            ],
            &[(0, 1), (2, 3)],
        );
        g
    }};
}

type Criterion = criterion::Criterion<Clock>;

fn bench_least_squares(cr: &mut Criterion) {
    let (m, n) = (2000, 200);
    let mut r = rng(1);
    let (x, w, y) = (
        mat(&mut r, m, n, 1.0),
        vec(&mut r, n, 1.0),
        vec(&mut r, m, 1.0),
    );
    let mut grp = cr.benchmark_group("least_squares");
    configure(&mut grp, 2.0);
    let g = main_columns!(
        grp,
        "least_squares",
        least_squares,
        least_squares_grad,
        least_squares_value_and_grad,
        least_squares_hand,
        (&x, &w, &y)
    );
    let (xd, yd) = (dual_m(&x), dual_v(&y));
    let dual = |w: &DVector<f64>| dual_gradient(|w| least_squares_t(&xd, &w, &yd), w);
    let fd = |w: &DVector<f64>| central_fd(w, |w| least_squares(&x, w, &y));
    check("least_squares: num_dual", &dual(&w), &g, EXACT);
    check("least_squares: finite differences", &fd(&w), &g, FD);
    grp.sampling_mode(SamplingMode::Flat);
    let size = format!("{m}x{n}");
    bench(&mut grp, &format!("num_dual/{size}"), || {
        dual(black_box(&w))
    });
    bench(&mut grp, &format!("finite_differences/{size}"), || {
        fd(black_box(&w))
    });
    grp.finish();
}

fn bench_ridge(cr: &mut Criterion) {
    let (m, n) = (2000, 200);
    let lambda = 0.5;
    let mut r = rng(2);
    let (x, w, y) = (
        mat(&mut r, m, n, 1.0),
        vec(&mut r, n, 1.0),
        vec(&mut r, m, 1.0),
    );
    let mut grp = cr.benchmark_group("ridge");
    configure(&mut grp, 2.0);
    let g = main_columns!(
        grp,
        "ridge",
        ridge,
        ridge_grad,
        ridge_value_and_grad,
        ridge_hand,
        (&x, &w, &y, lambda)
    );
    let (xd, yd) = (dual_m(&x), dual_v(&y));
    let dual = |w: &DVector<f64>| dual_gradient(|w| ridge_t(&xd, &w, &yd, lambda), w);
    let fd = |w: &DVector<f64>| central_fd(w, |w| ridge(&x, w, &y, lambda));
    check("ridge: num_dual", &dual(&w), &g, EXACT);
    check("ridge: finite differences", &fd(&w), &g, FD);
    grp.sampling_mode(SamplingMode::Flat);
    let size = format!("{m}x{n}");
    bench(&mut grp, &format!("num_dual/{size}"), || {
        dual(black_box(&w))
    });
    bench(&mut grp, &format!("finite_differences/{size}"), || {
        fd(black_box(&w))
    });
    grp.finish();
}

fn bench_logistic(cr: &mut Criterion) {
    let (m, n) = (5000, 100);
    let mut r = rng(3);
    let (x, w) = (mat(&mut r, m, n, 0.3), vec(&mut r, n, 1.0));
    let y = DVector::from_fn(m, |_, _| if r.random_bool(0.5) { 1.0 } else { 0.0 });
    let mut grp = cr.benchmark_group("logistic");
    configure(&mut grp, 2.0);
    let g = main_columns!(
        grp,
        "logistic",
        logistic,
        logistic_grad,
        logistic_value_and_grad,
        logistic_hand,
        (&x, &w, &y)
    );
    let (xd, yd) = (dual_m(&x), dual_v(&y));
    let dual = |w: &DVector<f64>| dual_gradient(|w| logistic_t(&xd, &w, &yd), w);
    let fd = |w: &DVector<f64>| central_fd(w, |w| logistic(&x, w, &y));
    check("logistic: num_dual", &dual(&w), &g, EXACT);
    check("logistic: finite differences", &fd(&w), &g, FD);
    grp.sampling_mode(SamplingMode::Flat);
    let size = format!("{m}x{n}");
    bench(&mut grp, &format!("num_dual/{size}"), || {
        dual(black_box(&w))
    });
    bench(&mut grp, &format!("finite_differences/{size}"), || {
        fd(black_box(&w))
    });
    grp.finish();
}

fn bench_trace_quadratic(cr: &mut Criterion) {
    let (n, k) = (300, 50);
    let mut r = rng(4);
    let (a, w) = (mat(&mut r, n, n, 1.0), mat(&mut r, n, k, 1.0));
    let mut grp = cr.benchmark_group("trace_quadratic");
    configure(&mut grp, 2.0);
    main_columns!(
        grp,
        "trace_quadratic",
        trace_quadratic,
        trace_quadratic_grad,
        trace_quadratic_value_and_grad,
        trace_quadratic_hand,
        (&a, &w)
    );
    // num-dual and finite differences at a smaller size (15 000 variables is minutes for both).
    let (sn, sk) = (60, 10);
    let (a_s, w_s) = (mat(&mut r, sn, sn, 1.0), mat(&mut r, sn, sk, 1.0));
    let gs = trace_quadratic_grad(&a_s, &w_s);
    let ad = dual_m(&a_s);
    let dual = |w: &DMatrix<f64>| {
        let flat = flatten(&[w.as_slice()]);
        let g = dual_gradient(
            |v| trace_quadratic_t(&ad, &v.reshape_generic(Dyn(sn), Dyn(sk))),
            &flat,
        );
        unflatten_f64(&g, 0, sn, sk)
    };
    let fd = |w: &DMatrix<f64>| central_fd(w, |w| trace_quadratic(&a_s, w));
    check("trace_quadratic: num_dual (small)", &dual(&w_s), &gs, EXACT);
    check(
        "trace_quadratic: finite differences (small)",
        &fd(&w_s),
        &gs,
        FD,
    );
    let size = format!("A{sn}x{sn}_W{sn}x{sk}");
    bench(&mut grp, &format!("generated_grad/{size}"), || {
        trace_quadratic_grad(black_box(&a_s), black_box(&w_s))
    });
    grp.sampling_mode(SamplingMode::Flat);
    bench(&mut grp, &format!("num_dual/{size}"), || {
        dual(black_box(&w_s))
    });
    bench(&mut grp, &format!("finite_differences/{size}"), || {
        fd(black_box(&w_s))
    });
    grp.finish();
}

fn bench_factorization(cr: &mut Criterion) {
    let (m, n, k) = (300, 200, 20);
    let mut r = rng(5);
    let (y, u, v) = (
        mat(&mut r, m, n, 1.0),
        mat(&mut r, m, k, 1.0),
        mat(&mut r, n, k, 1.0),
    );
    let mut grp = cr.benchmark_group("factorization");
    configure(&mut grp, 2.0);
    let (gu, gv) = factorization_grad(&y, &u, &v);
    let (hu, hv) = factorization_hand(&y, &u, &v);
    check(
        "factorization: generated vs hand-written, U",
        &gu,
        &hu,
        EXACT,
    );
    check(
        "factorization: generated vs hand-written, V",
        &gv,
        &hv,
        EXACT,
    );
    let (value, (gu2, gv2)) = factorization_value_and_grad(&y, &u, &v);
    check_scalar(
        "factorization: value_and_grad value",
        value,
        factorization(&y, &u, &v),
        1e-12,
    );
    check("factorization: value_and_grad gradient U", &gu2, &gu, 1e-14);
    check("factorization: value_and_grad gradient V", &gv2, &gv, 1e-14);
    bench(&mut grp, "generated_grad", || {
        factorization_grad(black_box(&y), black_box(&u), black_box(&v))
    });
    bench(&mut grp, "generated_value_and_grad", || {
        factorization_value_and_grad(black_box(&y), black_box(&u), black_box(&v))
    });
    bench(&mut grp, "value", || {
        factorization(black_box(&y), black_box(&u), black_box(&v))
    });
    bench(&mut grp, "hand_written", || {
        factorization_hand(black_box(&y), black_box(&u), black_box(&v))
    });
    paired(
        "factorization",
        &mut [
            ("generated_grad", &mut || {
                black_box(factorization_grad(
                    black_box(&y),
                    black_box(&u),
                    black_box(&v),
                ));
            }),
            ("hand_written", &mut || {
                black_box(factorization_hand(
                    black_box(&y),
                    black_box(&u),
                    black_box(&v),
                ));
            }),
            ("generated_value_and_grad", &mut || {
                black_box(factorization_value_and_grad(
                    black_box(&y),
                    black_box(&u),
                    black_box(&v),
                ));
            }),
            ("value", &mut || {
                black_box(factorization(black_box(&y), black_box(&u), black_box(&v)));
            }),
        ],
        &[(0, 1), (2, 3)],
    );
    // Smaller for num-dual and finite differences (10 000 variables at full size).
    let (sm, sn, sk) = (80, 60, 6);
    let (ys, us, vs) = (
        mat(&mut r, sm, sn, 1.0),
        mat(&mut r, sm, sk, 1.0),
        mat(&mut r, sn, sk, 1.0),
    );
    let (gus, gvs) = factorization_grad(&ys, &us, &vs);
    let yd = dual_m(&ys);
    let dual = |u: &DMatrix<f64>, v: &DMatrix<f64>| {
        let flat = flatten(&[u.as_slice(), v.as_slice()]);
        let g = dual_gradient(
            |x| {
                factorization_t(
                    &yd,
                    &unflatten(&x, 0, sm, sk),
                    &unflatten(&x, sm * sk, sn, sk),
                )
            },
            &flat,
        );
        (
            unflatten_f64(&g, 0, sm, sk),
            unflatten_f64(&g, sm * sk, sn, sk),
        )
    };
    let fd = |u: &DMatrix<f64>, v: &DMatrix<f64>| {
        (
            central_fd(u, |u| factorization(&ys, u, v)),
            central_fd(v, |v| factorization(&ys, u, v)),
        )
    };
    let (du, dv) = dual(&us, &vs);
    check("factorization: num_dual U (small)", &du, &gus, EXACT);
    check("factorization: num_dual V (small)", &dv, &gvs, EXACT);
    let (fu, fv) = fd(&us, &vs);
    check("factorization: finite differences U (small)", &fu, &gus, FD);
    check("factorization: finite differences V (small)", &fv, &gvs, FD);
    let size = format!("Y{sm}x{sn}_k{sk}");
    bench(&mut grp, &format!("generated_grad/{size}"), || {
        factorization_grad(black_box(&ys), black_box(&us), black_box(&vs))
    });
    grp.sampling_mode(SamplingMode::Flat);
    bench(&mut grp, &format!("num_dual/{size}"), || {
        dual(black_box(&us), black_box(&vs))
    });
    bench(&mut grp, &format!("finite_differences/{size}"), || {
        fd(black_box(&us), black_box(&vs))
    });
    grp.finish();
}

fn bench_gaussian_nll(cr: &mut Criterion) {
    let n = 200;
    let mut r = rng(6);
    let (x, mu, sigma) = (vec(&mut r, n, 1.0), vec(&mut r, n, 1.0), spd(&mut r, n));
    let mut grp = cr.benchmark_group("gaussian_nll");
    configure(&mut grp, 3.0);
    let g = main_columns!(
        grp,
        "gaussian_nll",
        gaussian_nll,
        gaussian_nll_grad,
        gaussian_nll_value_and_grad,
        gaussian_nll_hand,
        (&x, &mu, &sigma)
    );
    check(
        "gaussian_nll: Cholesky (SPD) vs generated",
        &gaussian_nll_hand_cholesky(&x, &mu, &sigma),
        &g,
        EXACT,
    );
    bench(&mut grp, "hand_written_cholesky", || {
        gaussian_nll_hand_cholesky(black_box(&x), black_box(&mu), black_box(&sigma))
    });
    // Smaller for num-dual and finite differences (40 000 variables at full size).
    let sn = 20;
    let (xs, mus, sigmas) = (vec(&mut r, sn, 1.0), vec(&mut r, sn, 1.0), spd(&mut r, sn));
    let gs = gaussian_nll_grad(&xs, &mus, &sigmas);
    let (xd, mud) = (dual_v(&xs), dual_v(&mus));
    let dual = |s: &DMatrix<f64>| {
        let flat = flatten(&[s.as_slice()]);
        let g = dual_gradient(
            |v| gaussian_nll_t(&xd, &mud, &v.reshape_generic(Dyn(sn), Dyn(sn))),
            &flat,
        );
        unflatten_f64(&g, 0, sn, sn)
    };
    let fd = |s: &DMatrix<f64>| central_fd(s, |s| gaussian_nll(&xs, &mus, s));
    check("gaussian_nll: num_dual (small)", &dual(&sigmas), &gs, EXACT);
    check(
        "gaussian_nll: finite differences (small)",
        &fd(&sigmas),
        &gs,
        FD,
    );
    let size = format!("n{sn}");
    bench(&mut grp, &format!("generated_grad/{size}"), || {
        gaussian_nll_grad(black_box(&xs), black_box(&mus), black_box(&sigmas))
    });
    grp.sampling_mode(SamplingMode::Flat);
    bench(&mut grp, &format!("num_dual/{size}"), || {
        dual(black_box(&sigmas))
    });
    bench(&mut grp, &format!("finite_differences/{size}"), || {
        fd(black_box(&sigmas))
    });
    grp.finish();
}

fn bench_bilinear_inverse(cr: &mut Criterion) {
    let n = 200;
    let mut r = rng(7);
    let (a, x, b) = (
        vec(&mut r, n, 1.0),
        well_conditioned(&mut r, n),
        vec(&mut r, n, 1.0),
    );
    let mut grp = cr.benchmark_group("bilinear_inverse");
    configure(&mut grp, 3.0);
    main_columns!(
        grp,
        "bilinear_inverse",
        bilinear_inverse,
        bilinear_inverse_grad,
        bilinear_inverse_value_and_grad,
        bilinear_inverse_hand,
        (&a, &x, &b)
    );
    // Smaller for num-dual and finite differences (40 000 variables at full size).
    let sn = 20;
    let (a_s, xs, bs) = (
        vec(&mut r, sn, 1.0),
        well_conditioned(&mut r, sn),
        vec(&mut r, sn, 1.0),
    );
    let gs = bilinear_inverse_grad(&a_s, &xs, &bs);
    let (ad, bd) = (dual_v(&a_s), dual_v(&bs));
    let dual = |x: &DMatrix<f64>| {
        let flat = flatten(&[x.as_slice()]);
        let g = dual_gradient(
            |v| bilinear_inverse_t(&ad, &v.reshape_generic(Dyn(sn), Dyn(sn)), &bd),
            &flat,
        );
        unflatten_f64(&g, 0, sn, sn)
    };
    let fd = |x: &DMatrix<f64>| central_fd(x, |x| bilinear_inverse(&a_s, x, &bs));
    check("bilinear_inverse: num_dual (small)", &dual(&xs), &gs, EXACT);
    check(
        "bilinear_inverse: finite differences (small)",
        &fd(&xs),
        &gs,
        FD,
    );
    let size = format!("n{sn}");
    bench(&mut grp, &format!("generated_grad/{size}"), || {
        bilinear_inverse_grad(black_box(&a_s), black_box(&xs), black_box(&bs))
    });
    grp.sampling_mode(SamplingMode::Flat);
    bench(&mut grp, &format!("num_dual/{size}"), || {
        dual(black_box(&xs))
    });
    bench(&mut grp, &format!("finite_differences/{size}"), || {
        fd(black_box(&xs))
    });
    grp.finish();
}

fn bench_trace_sixth_power(cr: &mut Criterion) {
    let n = 100;
    let mut r = rng(8);
    let x = mat(&mut r, n, n, 0.1);
    let mut grp = cr.benchmark_group("trace_sixth_power");
    configure(&mut grp, 2.0);
    main_columns!(
        grp,
        "trace_sixth_power",
        trace_sixth_power,
        trace_sixth_power_grad,
        trace_sixth_power_value_and_grad,
        trace_sixth_power_hand,
        (&x)
    );
    // Smaller for num-dual and finite differences (10 000 variables at full size).
    let sn = 20;
    let xs = mat(&mut r, sn, sn, 0.3);
    let gs = trace_sixth_power_grad(&xs);
    let dual = |x: &DMatrix<f64>| {
        let flat = flatten(&[x.as_slice()]);
        let g = dual_gradient(
            |v| trace_sixth_power_t(&v.reshape_generic(Dyn(sn), Dyn(sn))),
            &flat,
        );
        unflatten_f64(&g, 0, sn, sn)
    };
    let fd = |x: &DMatrix<f64>| central_fd(x, trace_sixth_power);
    check(
        "trace_sixth_power: num_dual (small)",
        &dual(&xs),
        &gs,
        EXACT,
    );
    check(
        "trace_sixth_power: finite differences (small)",
        &fd(&xs),
        &gs,
        FD,
    );
    let size = format!("n{sn}");
    bench(&mut grp, &format!("generated_grad/{size}"), || {
        trace_sixth_power_grad(black_box(&xs))
    });
    grp.sampling_mode(SamplingMode::Flat);
    bench(&mut grp, &format!("num_dual/{size}"), || {
        dual(black_box(&xs))
    });
    bench(&mut grp, &format!("finite_differences/{size}"), || {
        fd(black_box(&xs))
    });
    grp.finish();
}

fn bench_tanh_layer(cr: &mut Criterion) {
    let (h, d, o) = (256, 512, 10);
    let mut r = rng(9);
    let (w, v) = (
        mat(&mut r, h, d, 1.0 / (d as f64).sqrt()),
        mat(&mut r, o, h, 1.0 / (h as f64).sqrt()),
    );
    let (x, t) = (vec(&mut r, d, 1.0), vec(&mut r, o, 1.0));
    let mut grp = cr.benchmark_group("tanh_layer");
    configure(&mut grp, 2.0);
    let (gw, gv) = tanh_layer_grad(&w, &v, &x, &t);
    let (hw, hv) = tanh_layer_hand(&w, &v, &x, &t);
    check("tanh_layer: generated vs hand-written, W", &gw, &hw, EXACT);
    check("tanh_layer: generated vs hand-written, V", &gv, &hv, EXACT);
    let (value, (gw2, gv2)) = tanh_layer_value_and_grad(&w, &v, &x, &t);
    check_scalar(
        "tanh_layer: value_and_grad value",
        value,
        tanh_layer(&w, &v, &x, &t),
        1e-12,
    );
    check("tanh_layer: value_and_grad gradient W", &gw2, &gw, 1e-14);
    check("tanh_layer: value_and_grad gradient V", &gv2, &gv, 1e-14);
    bench(&mut grp, "generated_grad", || {
        tanh_layer_grad(black_box(&w), black_box(&v), black_box(&x), black_box(&t))
    });
    bench(&mut grp, "generated_value_and_grad", || {
        tanh_layer_value_and_grad(black_box(&w), black_box(&v), black_box(&x), black_box(&t))
    });
    bench(&mut grp, "value", || {
        tanh_layer(black_box(&w), black_box(&v), black_box(&x), black_box(&t))
    });
    bench(&mut grp, "hand_written", || {
        tanh_layer_hand(black_box(&w), black_box(&v), black_box(&x), black_box(&t))
    });
    paired(
        "tanh_layer",
        &mut [
            ("generated_grad", &mut || {
                black_box(tanh_layer_grad(
                    black_box(&w),
                    black_box(&v),
                    black_box(&x),
                    black_box(&t),
                ));
            }),
            ("hand_written", &mut || {
                black_box(tanh_layer_hand(
                    black_box(&w),
                    black_box(&v),
                    black_box(&x),
                    black_box(&t),
                ));
            }),
            ("generated_value_and_grad", &mut || {
                black_box(tanh_layer_value_and_grad(
                    black_box(&w),
                    black_box(&v),
                    black_box(&x),
                    black_box(&t),
                ));
            }),
            ("value", &mut || {
                black_box(tanh_layer(
                    black_box(&w),
                    black_box(&v),
                    black_box(&x),
                    black_box(&t),
                ));
            }),
        ],
        &[(0, 1), (2, 3)],
    );
    // Smaller for num-dual and finite differences (133 632 variables at full size).
    let (sh, sd) = (32, 64);
    let (ws, vs) = (
        mat(&mut r, sh, sd, 1.0 / (sd as f64).sqrt()),
        mat(&mut r, o, sh, 1.0 / (sh as f64).sqrt()),
    );
    let xs = vec(&mut r, sd, 1.0);
    let (gws, gvs) = tanh_layer_grad(&ws, &vs, &xs, &t);
    let (xd, td) = (dual_v(&xs), dual_v(&t));
    let dual = |w: &DMatrix<f64>, v: &DMatrix<f64>| {
        let flat = flatten(&[w.as_slice(), v.as_slice()]);
        let g = dual_gradient(
            |z| {
                tanh_layer_t(
                    &unflatten(&z, 0, sh, sd),
                    &unflatten(&z, sh * sd, o, sh),
                    &xd,
                    &td,
                )
            },
            &flat,
        );
        (
            unflatten_f64(&g, 0, sh, sd),
            unflatten_f64(&g, sh * sd, o, sh),
        )
    };
    let fd = |w: &DMatrix<f64>, v: &DMatrix<f64>| {
        (
            central_fd(w, |w| tanh_layer(w, v, &xs, &t)),
            central_fd(v, |v| tanh_layer(w, v, &xs, &t)),
        )
    };
    let (dw, dv) = dual(&ws, &vs);
    check("tanh_layer: num_dual W (small)", &dw, &gws, EXACT);
    check("tanh_layer: num_dual V (small)", &dv, &gvs, EXACT);
    let (fw, fv) = fd(&ws, &vs);
    check("tanh_layer: finite differences W (small)", &fw, &gws, FD);
    check("tanh_layer: finite differences V (small)", &fv, &gvs, FD);
    let size = format!("{o}x{sh}x{sd}");
    bench(&mut grp, &format!("generated_grad/{size}"), || {
        tanh_layer_grad(
            black_box(&ws),
            black_box(&vs),
            black_box(&xs),
            black_box(&t),
        )
    });
    grp.sampling_mode(SamplingMode::Flat);
    bench(&mut grp, &format!("num_dual/{size}"), || {
        dual(black_box(&ws), black_box(&vs))
    });
    bench(&mut grp, &format!("finite_differences/{size}"), || {
        fd(black_box(&ws), black_box(&vs))
    });
    grp.finish();
}

criterion_group!(
    name = benches;
    config = criterion::Criterion::default().with_measurement(Clock::from_env());
    targets =
    bench_least_squares,
    bench_ridge,
    bench_logistic,
    bench_trace_quadratic,
    bench_factorization,
    bench_gaussian_nll,
    bench_bilinear_inverse,
    bench_trace_sixth_power,
    bench_tanh_layer,
    bench_small
);
criterion_main!(benches);

// ---------------------------------------------------------------------------------------------
// Small and static objectives (issue 16): where no kernel dominates, paired ratios only.
// ---------------------------------------------------------------------------------------------

/// ‖Xw − y‖² with static shapes.
#[gradient(wrt = w)]
pub fn least_squares_static(x: &Matrix3x2<f64>, w: &Vector2<f64>, y: &Vector3<f64>) -> f64 {
    (x * w - y).norm_squared()
}

/// xᵀ A x, static 3-vector (a squared Mahalanobis distance with A = Σ⁻¹).
#[gradient(wrt = x)]
pub fn mahalanobis_static(x: &Vector3<f64>, a: &Matrix3<f64>) -> f64 {
    x.dot(&(a * x))
}

fn least_squares_static_hand(
    x: &Matrix3x2<f64>,
    w: &Vector2<f64>,
    y: &Vector3<f64>,
) -> Vector2<f64> {
    (x.tr_mul(&(x * w - y))) * 2.0
}

fn mahalanobis_static_hand(x: &Vector3<f64>, a: &Matrix3<f64>) -> Vector3<f64> {
    a * x + a.tr_mul(x)
}

/// generated/hand-written at the small dynamic sizes (least squares 20×5, logistic 50×4) and
/// on static objectives (3×2, 3×3), checked first like the main groups.
fn bench_small(_cr: &mut Criterion) {
    let mut r = rng(16);
    let (x, w, y) = (
        mat(&mut r, 20, 5, 1.0),
        vec(&mut r, 5, 1.0),
        vec(&mut r, 20, 1.0),
    );
    check(
        "small least squares",
        &least_squares_grad(&x, &w, &y),
        &least_squares_hand(&x, &w, &y),
        EXACT,
    );
    let (xl, wl) = (mat(&mut r, 50, 4, 1.0), vec(&mut r, 4, 1.0));
    let yl = DVector::from_fn(50, |_, _| f64::from(r.random_range(0..2u8)));
    check(
        "small logistic",
        &logistic_grad(&xl, &wl, &yl),
        &logistic_hand(&xl, &wl, &yl),
        EXACT,
    );
    let xs = Matrix3x2::from_fn(|_, _| r.random_range(-1.0..1.0));
    let (ws, ys) = (Vector2::new(0.3, -0.7), Vector3::new(0.1, 0.2, -0.4));
    let g = least_squares_static_grad(&xs, &ws, &ys);
    assert!((g - least_squares_static_hand(&xs, &ws, &ys)).norm() <= 1e-12 * g.norm());
    let (xm, am) = (
        Vector3::new(0.5, -1.0, 2.0),
        Matrix3::from_fn(|_, _| r.random_range(-1.0..1.0)),
    );
    let g = mahalanobis_static_grad(&xm, &am);
    assert!((g - mahalanobis_static_hand(&xm, &am)).norm() <= 1e-12 * g.norm());
    paired(
        "small",
        &mut [
            ("least_squares_20x5_generated", &mut || {
                black_box(least_squares_grad(
                    black_box(&x),
                    black_box(&w),
                    black_box(&y),
                ));
            }),
            ("least_squares_20x5_hand", &mut || {
                black_box(least_squares_hand(
                    black_box(&x),
                    black_box(&w),
                    black_box(&y),
                ));
            }),
            ("logistic_50x4_generated", &mut || {
                black_box(logistic_grad(
                    black_box(&xl),
                    black_box(&wl),
                    black_box(&yl),
                ));
            }),
            ("logistic_50x4_hand", &mut || {
                black_box(logistic_hand(
                    black_box(&xl),
                    black_box(&wl),
                    black_box(&yl),
                ));
            }),
            ("least_squares_3x2_generated", &mut || {
                black_box(least_squares_static_grad(
                    black_box(&xs),
                    black_box(&ws),
                    black_box(&ys),
                ));
            }),
            ("least_squares_3x2_hand", &mut || {
                black_box(least_squares_static_hand(
                    black_box(&xs),
                    black_box(&ws),
                    black_box(&ys),
                ));
            }),
            ("mahalanobis_3_generated", &mut || {
                black_box(mahalanobis_static_grad(black_box(&xm), black_box(&am)));
            }),
            ("mahalanobis_3_hand", &mut || {
                black_box(mahalanobis_static_hand(black_box(&xm), black_box(&am)));
            }),
        ],
        &[(0, 1), (2, 3), (4, 5), (6, 7)],
    );
}
