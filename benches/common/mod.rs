//! Helpers for the gradient and Jacobian benchmarks: seeded inputs, zero-copy transposed views,
//! central differences, num-dual plumbing and the startup correctness checks.

#![allow(dead_code)]

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BenchmarkGroup, BenchmarkId};
use matgrad::nalgebra::allocator::Allocator;
use matgrad::nalgebra::{
    DMatrix, DMatrixView, DVector, DefaultAllocator, Dim, Dyn, MatrixView, OMatrix,
};
use num_dual::DualDVec64;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What the benchmarks measure: by default the CPU time of the benchmarking thread
/// (`CLOCK_THREAD_CPUTIME_ID`), which time slices taken by other processes on the machine do
/// not inflate; with `MATGRAD_BENCH_CLOCK=wall`, criterion's wall-clock time. Everything timed
/// here is single-threaded, so on an idle machine the two agree.
pub struct Clock {
    thread: bool,
    wall: WallTime,
}

impl Clock {
    pub fn from_env() -> Clock {
        let wall = std::env::var("MATGRAD_BENCH_CLOCK").is_ok_and(|v| v == "wall");
        eprintln!(
            "clock: {}",
            if wall {
                "wall time"
            } else {
                "thread CPU time (MATGRAD_BENCH_CLOCK=wall for wall time)"
            }
        );
        Clock {
            thread: !wall,
            wall: WallTime,
        }
    }
}

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
}

/// CPU time consumed by the calling thread.
fn thread_cpu_time() -> Duration {
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3; // Linux
    let mut t = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

impl Measurement for Clock {
    type Intermediate = (std::time::Instant, Duration);
    type Value = Duration;

    fn start(&self) -> Self::Intermediate {
        let cpu = if self.thread {
            thread_cpu_time()
        } else {
            Duration::ZERO
        };
        (std::time::Instant::now(), cpu)
    }
    fn end(&self, (wall, cpu): Self::Intermediate) -> Duration {
        if self.thread {
            thread_cpu_time() - cpu
        } else {
            wall.elapsed()
        }
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

pub type Group<'a> = BenchmarkGroup<'a, Clock>;

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Entries uniform in [−scale, scale].
pub fn mat(r: &mut StdRng, rows: usize, cols: usize, scale: f64) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |_, _| scale * r.random_range(-1.0..1.0))
}

pub fn vec(r: &mut StdRng, n: usize, scale: f64) -> DVector<f64> {
    DVector::from_fn(n, |_, _| scale * r.random_range(-1.0..1.0))
}

/// A symmetric positive definite matrix with eigenvalues in about [1, 5].
pub fn spd(r: &mut StdRng, n: usize) -> DMatrix<f64> {
    let b = mat(r, n, n, 1.0);
    let mut s = DMatrix::identity(n, n);
    s.gemm(1.0 / n as f64, &b, &transposed(&b), 1.0);
    // Exactly symmetric.
    let st = s.transpose();
    (s + st) * 0.5
}

/// A well-conditioned, non-symmetric square matrix.
pub fn well_conditioned(r: &mut StdRng, n: usize) -> DMatrix<f64> {
    mat(r, n, n, 1.0) + DMatrix::identity(n, n) * (2.0 * (n as f64).sqrt())
}

/// `m` transposed, as a strided view of the same storage (no copy). `gemm` with it as an
/// operand still goes to matrixmultiply, which accepts arbitrary strides.
pub fn transposed(m: &DMatrix<f64>) -> MatrixView<'_, f64, Dyn, Dyn, Dyn, Dyn> {
    let (r, c) = m.shape();
    DMatrixView::from_slice_with_strides(m.as_slice(), c, r, r, 1)
}

/// ‖a − b‖_F / ‖b‖_F.
pub fn rel_err<R: Dim, C: Dim>(a: &OMatrix<f64, R, C>, b: &OMatrix<f64, R, C>) -> f64
where
    DefaultAllocator: Allocator<R, C>,
{
    (a - b).norm() / b.norm().max(f64::MIN_POSITIVE)
}

/// Panics unless `a` matches the reference `b` to `tol` (relative, Frobenius).
pub fn check<R: Dim, C: Dim>(what: &str, a: &OMatrix<f64, R, C>, b: &OMatrix<f64, R, C>, tol: f64)
where
    DefaultAllocator: Allocator<R, C>,
{
    let e = rel_err(a, b);
    assert!(e <= tol, "{what}: relative error {e:.3e} > {tol:.0e}");
    eprintln!("check {what}: relative error {e:.2e} (<= {tol:.0e})");
}

pub fn check_scalar(what: &str, a: f64, b: f64, tol: f64) {
    let e = (a - b).abs() / b.abs().max(f64::MIN_POSITIVE);
    assert!(
        e <= tol,
        "{what}: relative error {e:.3e} > {tol:.0e} ({a} vs {b})"
    );
}

/// For each entry i of `x`: f at x + hᵢeᵢ and at x − hᵢeᵢ, and the step between them, handed to
/// `record`; h = ε^(1/3)·max(1, |xᵢ|), two evaluations per entry.
fn central_steps<R: Dim, C: Dim, T>(
    x: &OMatrix<f64, R, C>,
    mut f: impl FnMut(&OMatrix<f64, R, C>) -> T,
    mut record: impl FnMut(usize, T, T, f64),
) where
    DefaultAllocator: Allocator<R, C>,
{
    let mut xp = x.clone();
    for i in 0..x.len() {
        let xi = xp[i];
        let h = 6.0555e-6 * xi.abs().max(1.0);
        let (hi, lo) = (xi + h, xi - h);
        xp[i] = hi;
        let fp = f(&xp);
        xp[i] = lo;
        let fm = f(&xp);
        xp[i] = xi;
        record(i, fp, fm, hi - lo);
    }
}

/// Central finite differences of `f` with respect to every entry of `x`, in the shape of `x`.
pub fn central_fd<R: Dim, C: Dim>(
    x: &OMatrix<f64, R, C>,
    f: impl FnMut(&OMatrix<f64, R, C>) -> f64,
) -> OMatrix<f64, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let mut g = x.clone();
    central_steps(x, f, |i, fp, fm, step| g[i] = (fp - fm) / step);
    g
}

/// Central finite differences of a vector-valued `f` with respect to every entry of `x`: the
/// Jacobian in numerator layout (one row per entry of f(x), one column per entry of x).
pub fn central_fd_jacobian(
    x: &DVector<f64>,
    f: impl FnMut(&DVector<f64>) -> DVector<f64>,
) -> DMatrix<f64> {
    let mut j = DMatrix::zeros(0, x.len());
    central_steps(x, f, |i, fp: DVector<f64>, fm: DVector<f64>, step| {
        if j.nrows() != fp.len() {
            j = DMatrix::zeros(fp.len(), x.len());
        }
        j.set_column(i, &((fp - fm) / step));
    });
    j
}

/// A constant lifted to dual numbers (no derivative part, nothing allocated for it).
pub fn dual_m(m: &DMatrix<f64>) -> DMatrix<DualDVec64> {
    m.map(DualDVec64::from_re)
}

pub fn dual_v(v: &DVector<f64>) -> DVector<DualDVec64> {
    v.map(DualDVec64::from_re)
}

/// The entries of several matrices, column-major one after the other: num-dual's `gradient`
/// takes one vector of variables.
pub fn flatten(ms: &[&[f64]]) -> DVector<f64> {
    DVector::from_iterator(
        ms.iter().map(|m| m.len()).sum(),
        ms.iter().flat_map(|m| m.iter().copied()),
    )
}

/// Rows×cols dual matrix from `v[offset..offset + rows·cols]`, column-major.
pub fn unflatten(
    v: &DVector<DualDVec64>,
    offset: usize,
    rows: usize,
    cols: usize,
) -> DMatrix<DualDVec64> {
    DMatrix::from_iterator(rows, cols, v.iter().skip(offset).take(rows * cols).cloned())
}

/// Rows×cols f64 matrix from `v[offset..offset + rows·cols]`, column-major.
pub fn unflatten_f64(v: &DVector<f64>, offset: usize, rows: usize, cols: usize) -> DMatrix<f64> {
    DMatrix::from_column_slice(rows, cols, &v.as_slice()[offset..offset + rows * cols])
}

/// Gradient of `f` over the variables `x` with num-dual's forward mode (one `DualDVec64` per
/// variable, carrying the full derivative vector).
pub fn dual_gradient(
    f: impl Fn(DVector<DualDVec64>) -> DualDVec64,
    x: &DVector<f64>,
) -> DVector<f64> {
    num_dual::gradient(f, x).1
}

/// Jacobian of the vector-valued `f` at `x` with num-dual's forward mode (`num_dual::jacobian`:
/// one `DualDVec64` per variable, carrying the full derivative vector), in numerator layout.
pub fn dual_jacobian(
    f: impl Fn(DVector<DualDVec64>) -> DVector<DualDVec64>,
    x: &DVector<f64>,
) -> DMatrix<f64> {
    num_dual::jacobian(f, x).1
}

/// One benchmark: `f` timed with `iter`; `id` is `function` or `function/parameter`.
/// Closures pass their inputs through `black_box`.
pub fn bench<O>(g: &mut Group<'_>, id: &str, mut f: impl FnMut() -> O) {
    match id.split_once('/') {
        Some((function, parameter)) => {
            g.bench_function(BenchmarkId::new(function, parameter), |b| b.iter(&mut f))
        }
        None => g.bench_function(id, |b| b.iter(&mut f)),
    };
}

/// Group settings: 10 samples, 1 s warm-up, `secs` of measurement.
pub fn configure(g: &mut Group<'_>, secs: f64) {
    log_load();
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs_f64(secs));
}

/// Prints the load average (Linux), so that a run disturbed by other work on the machine shows
/// it in its log.
pub fn log_load() {
    if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
        eprintln!("load average: {}", l.trim());
    }
}

/// A variant for [`paired`]: its name and one call.
pub type Variant<'a> = (&'a str, &'a mut dyn FnMut());

/// Ratios that drifting load on a shared machine cannot bias: the variants run interleaved,
/// in rotating order, in batches of about 2 ms, for 31 rounds; the ratio of each pair is taken
/// per round and its median printed (with the quartiles). `pairs` are (numerator, denominator)
/// indices into `variants`. Printed lines start with `paired ratio:`; each variant's median time
/// per call is printed on a `paired time:` line.
///
/// `PAIRED=group,group` in the environment runs only those groups' paired ratios (criterion's
/// filter does not reach them), for repeating one measurement in many processes.
pub fn paired(group: &str, variants: &mut [Variant<'_>], pairs: &[(usize, usize)]) {
    if let Ok(only) = std::env::var("PAIRED") {
        if !only.split(',').any(|g| g == group) {
            return;
        }
    }
    let n = variants.len();
    // Calibrate: calls per batch so that a batch takes about 2 ms.
    let mut batch = vec![1usize; n];
    for (k, (_, f)) in variants.iter_mut().enumerate() {
        f();
        let t0 = thread_cpu_time();
        f();
        let t = (thread_cpu_time() - t0).as_secs_f64().max(1e-7);
        batch[k] = ((2e-3 / t) as usize).clamp(1, 10_000);
    }
    let rounds = 31;
    let mut times = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        for i in 0..n {
            let k = (i + round) % n;
            let (_, f) = &mut variants[k];
            let t0 = thread_cpu_time();
            for _ in 0..batch[k] {
                f();
            }
            times[k].push((thread_cpu_time() - t0).as_secs_f64() / batch[k] as f64);
        }
    }
    for (k, t) in times.iter().enumerate() {
        let mut t = t.clone();
        t.sort_by(|x, y| x.total_cmp(y));
        eprintln!(
            "paired time: {group}: {} = {:.2} µs",
            variants[k].0,
            t[rounds / 2] * 1e6
        );
    }
    for &(a, b) in pairs {
        let mut r: Vec<f64> = (0..rounds).map(|i| times[a][i] / times[b][i]).collect();
        r.sort_by(|x, y| x.total_cmp(y));
        eprintln!(
            "paired ratio: {group}: {}/{} = {:.3} [{:.3}, {:.3}]",
            variants[a].0,
            variants[b].0,
            r[rounds / 2],
            r[rounds / 4],
            r[3 * rounds / 4]
        );
    }
}
