//! Where faer's kernels beat nalgebra's (issue 16): paired ratios faer/nalgebra per kernel and
//! size, the numbers behind the thresholds in `src/kernels.rs`. Each pair is checked for equal
//! results first. Run with `cargo bench -p matgrad-benches --bench kernels` (no criterion: the
//! paired ratios are the output; `taskset -c 0` to pin).

mod common;

use common::{log_load, mat, paired, rng, spd, vec, well_conditioned};
use matgrad::kernels::{self, Operand, PackedLu};
use matgrad::nalgebra::{DMatrix, DVector};
use std::hint::black_box;

fn close(what: &str, a: &[f64], b: &[f64]) {
    let num: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt();
    let den: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt().max(1e-300);
    assert!(num / den < 1e-9, "{what}: relative error {}", num / den);
}

fn faer_inverse(m: &DMatrix<f64>) -> DMatrix<f64> {
    let n = m.nrows();
    let lu = PackedLu::new(m.as_slice().to_vec(), n);
    let mut out = vec![0.0; n * n];
    lu.inverse_into(&mut out);
    DMatrix::from_vec(n, n, out)
}

fn faer_lu_solve(m: &DMatrix<f64>, b: &DVector<f64>) -> DVector<f64> {
    let n = m.nrows();
    let lu = PackedLu::new(m.as_slice().to_vec(), n);
    let mut x = b.as_slice().to_vec();
    lu.solve_in_place(&mut x, 1, false);
    DVector::from_vec(x)
}

fn faer_cholesky(m: &DMatrix<f64>) -> DMatrix<f64> {
    let n = m.nrows();
    let mut a = m.as_slice().to_vec();
    assert!(kernels::cholesky_in_place(&mut a, n));
    DMatrix::from_vec(n, n, a)
}

fn faer_mul(a: &DMatrix<f64>, at: bool, b: &DMatrix<f64>) -> DMatrix<f64> {
    let (m, n) = (if at { a.ncols() } else { a.nrows() }, b.ncols());
    let mut out = vec![0.0; m * n];
    fn op(x: &DMatrix<f64>, t: bool) -> Operand<'_> {
        Operand {
            data: x.as_slice(),
            rows: x.nrows(),
            cols: x.ncols(),
            transposed: t,
        }
    }
    kernels::gemm(&mut out, op(a, at), op(b, false));
    DMatrix::from_vec(m, n, out)
}

fn main() {
    log_load();
    let mut r = rng(16);
    for n in [8, 16, 32, 48, 64, 100, 200] {
        let x = well_conditioned(&mut r, n);
        let b = vec(&mut r, n, 1.0);
        let s = spd(&mut r, n);
        close(
            "inverse",
            faer_inverse(&x).as_slice(),
            x.clone().try_inverse().unwrap().as_slice(),
        );
        close(
            "lu solve",
            faer_lu_solve(&x, &b).as_slice(),
            x.clone().lu().solve(&b).unwrap().as_slice(),
        );
        close(
            "cholesky",
            faer_cholesky(&s).as_slice(),
            s.clone().cholesky().unwrap().unpack().as_slice(),
        );
        let g = format!("n{n}");
        paired(
            &g,
            &mut [
                ("faer_inverse", &mut || {
                    drop(black_box(faer_inverse(black_box(&x))))
                }),
                ("nalgebra_inverse", &mut || {
                    drop(black_box(black_box(&x).clone().try_inverse()))
                }),
                ("faer_lu_solve", &mut || {
                    drop(black_box(faer_lu_solve(black_box(&x), black_box(&b))))
                }),
                ("nalgebra_lu_solve", &mut || {
                    drop(black_box(black_box(&x).clone().lu().solve(black_box(&b))))
                }),
                ("faer_cholesky", &mut || {
                    drop(black_box(faer_cholesky(black_box(&s))))
                }),
                ("nalgebra_cholesky", &mut || {
                    drop(black_box(
                        black_box(&s).clone().cholesky().map(|c| c.unpack()),
                    ))
                }),
                ("faer_gemm", &mut || {
                    drop(black_box(faer_mul(black_box(&x), false, black_box(&s))))
                }),
                ("nalgebra_gemm", &mut || {
                    drop(black_box(black_box(&x) * black_box(&s)))
                }),
            ],
            &[(0, 1), (2, 3), (4, 5), (6, 7)],
        );
    }
    for (m, n) in [
        (20, 5),
        (50, 4),
        (40, 10),
        (64, 16),
        (30, 40),
        (100, 10),
        (200, 50),
        (256, 512),
        (1000, 100),
        (2000, 200),
        (5000, 100),
    ] {
        let x = mat(&mut r, m, n, 1.0);
        let w = DMatrix::from_column_slice(n, 1, vec(&mut r, n, 1.0).as_slice());
        let y = DMatrix::from_column_slice(m, 1, vec(&mut r, m, 1.0).as_slice());
        let wv = DVector::from_column_slice(w.as_slice());
        let yv = DVector::from_column_slice(y.as_slice());
        close(
            "gemv",
            faer_mul(&x, false, &w).as_slice(),
            (&x * &wv).as_slice(),
        );
        close(
            "gemv_t",
            faer_mul(&x, true, &y).as_slice(),
            x.tr_mul(&yv).as_slice(),
        );
        let two_pass = |x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>| {
            let mut r = x * w;
            r -= y;
            x.tr_mul(&r)
        };
        let one_pass = |x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>| {
            kernels::tr_mul_map(x.as_slice(), x.nrows(), w.as_slice(), |z, i| z - y[i])
        };
        // What generated code calls: one pass or two, by size.
        let dispatched = |x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>| {
            matgrad::__private::tr_mul_map(x, w, [y.as_slice()], |z, o| z - o[0])
        };
        close(
            "dispatched",
            dispatched(&x, &wv, &yv).as_slice(),
            two_pass(&x, &wv, &yv).as_slice(),
        );
        close(
            "one pass",
            &one_pass(&x, &wv, &yv),
            two_pass(&x, &wv, &yv).as_slice(),
        );
        paired(
            &format!("{m}x{n}"),
            &mut [
                ("faer_gemv", &mut || {
                    drop(black_box(faer_mul(black_box(&x), false, black_box(&w))))
                }),
                ("nalgebra_gemv", &mut || {
                    drop(black_box(black_box(&x) * black_box(&wv)))
                }),
                ("faer_gemv_t", &mut || {
                    drop(black_box(faer_mul(black_box(&x), true, black_box(&y))))
                }),
                ("nalgebra_gemv_t", &mut || {
                    drop(black_box(black_box(&x).tr_mul(black_box(&yv))))
                }),
                ("one_pass_xt_r", &mut || {
                    drop(black_box(one_pass(
                        black_box(&x),
                        black_box(&wv),
                        black_box(&yv),
                    )))
                }),
                ("two_pass_xt_r", &mut || {
                    drop(black_box(two_pass(
                        black_box(&x),
                        black_box(&wv),
                        black_box(&yv),
                    )))
                }),
                ("dispatched_xt_r", &mut || {
                    drop(black_box(dispatched(
                        black_box(&x),
                        black_box(&wv),
                        black_box(&yv),
                    )))
                }),
            ],
            &[(0, 1), (2, 3), (4, 5), (6, 5)],
        );
        eprintln!(
            "(X is {:.2} MB: one read at 1 µs per MB is 1 TB/s)",
            (m * n * 8) as f64 / 1e6
        );
        // Wall-clock time of the one-pass kernel (with the feature `parallel` it may use several
        // threads, which the thread CPU clock of `paired` would not see): median of 21 batches.
        let mut times: Vec<f64> = (0..21)
            .map(|_| {
                let t0 = std::time::Instant::now();
                let mut k = 0;
                while t0.elapsed().as_secs_f64() < 2e-3 {
                    black_box(one_pass(black_box(&x), black_box(&wv), black_box(&yv)));
                    k += 1;
                }
                t0.elapsed().as_secs_f64() / k as f64
            })
            .collect();
        times.sort_by(|a, b| a.total_cmp(b));
        eprintln!(
            "wall time: {m}x{n}: one_pass_xt_r = {:.2} µs (parallel feature: {})",
            times[10] * 1e6,
            cfg!(feature = "parallel")
        );
    }
}
