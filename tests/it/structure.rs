//! Issue 9.2–9.4: reductions and broadcasting, stable scalar forms, views, `normalize` and
//! `cross`, each against central differences and its closed form on rectangular shapes.

use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector, RowDVector, Vector3};

use crate::support::*;

// ⟨w, row sums⟩ + ⟨v, column means⟩: ∂/∂X = 1 wᵀ... as broadcasts.
#[gradient(wrt = x)]
fn sums_and_means(x: &DMatrix<f64>, w: &RowDVector<f64>, v: &DVector<f64>) -> f64 {
    x.row_sum().dot(w) + x.column_mean().dot(v) + x.row_mean().sum() * x.column_sum().sum()
}

#[test]
fn row_and_column_sums_and_means() {
    let mut r = rng(911);
    let x = mat(&mut r, 4, 3);
    let w = RowDVector::from_fn(3, |_, j| 0.3 * j as f64 - 0.2);
    let v = vec(&mut r, 4);
    let g = sums_and_means_grad(&x, &w, &v);
    assert_close(&g, &fd(&x, |x| sums_and_means(x, &w, &v)), 1e-6);
    // Closed form: 1 w + v 1ᵀ / 3 + (sum(x)/4 · 1 + sum(x)) J... checked term by term.
    let s = x.sum();
    let closed = DMatrix::from_fn(4, 3, |i, j| w[j] + v[i] / 3.0 + s / 4.0 + s / 4.0);
    assert_close(&g, &closed, 1e-12);
}

// diag and Diag, and the extremes.
#[gradient(wrt = (a, d))]
fn diagonals(a: &DMatrix<f64>, d: &DVector<f64>, b: &DMatrix<f64>) -> f64 {
    a.diagonal().dot(d) + (DMatrix::from_diagonal(d) * b).norm_squared()
}

#[test]
fn diagonal_and_from_diagonal() {
    let mut r = rng(912);
    let (a, d, b) = (mat(&mut r, 4, 4), vec(&mut r, 4), mat(&mut r, 4, 3));
    let (ga, gd) = diagonals_grad(&a, &d, &b);
    assert_close(&ga, &DMatrix::from_diagonal(&d), 1e-12);
    assert_close(&ga, &fd(&a, |a| diagonals(a, &d, &b)), 1e-6);
    // ∂‖Diag(d) B‖²/∂d = 2 d ⊙ (rows of B squared, summed)
    let closed = a.diagonal() + DVector::from_fn(4, |i, _| 2.0 * d[i] * b.row(i).norm_squared());
    assert_close(&gd, &closed, 1e-12);
    assert_close(&gd, &fd(&d, |d| diagonals(&a, d, &b)), 1e-6);
}

#[gradient(wrt = x)]
fn spread(x: &DMatrix<f64>) -> f64 {
    x.max() - 2.0 * x.min()
}

#[test]
fn max_and_min_put_the_subgradient_at_the_first_extremum() {
    let x = DMatrix::from_row_slice(2, 3, &[0.5, 3.0, -1.0, 3.0, -4.0, 2.0]);
    let g = spread_grad(&x);
    // Storage order is column-major: 3.0 at (0, 1) comes after 3.0 at (1, 0).
    let mut want = DMatrix::zeros(2, 3);
    want[(1, 0)] = 1.0;
    want[(1, 1)] = -2.0;
    assert_eq!(g, want);
    let mut r = rng(913);
    let y = mat(&mut r, 3, 5);
    assert_close(&spread_grad(&y), &fd(&y, spread), 1e-6);
}

// Row-wise log-sum-exp with the stabilising shift (max over everything): the shift does not
// change the value, and the gradient stays finite where exp overflows.
#[gradient(wrt = z)]
fn log_sum_exp_rows(z: &DMatrix<f64>) -> f64 {
    let m = z.max();
    z.map(|v| (v - m).exp())
        .column_sum()
        .map(|v| v.ln())
        .add_scalar(m)
        .sum()
}

#[gradient(wrt = z)]
fn log_sum_exp(z: &DVector<f64>) -> f64 {
    let m = z.max();
    z.map(|v| (v - m).exp()).sum().ln() + m
}

#[test]
fn shifted_log_sum_exp_is_finite_at_800() {
    let mut r = rng(914);
    let z = mat(&mut r, 3, 4);
    assert_close(&log_sum_exp_rows_grad(&z), &fd(&z, log_sum_exp_rows), 1e-6);
    // The gradient is the softmax of each row.
    let softmax = |row: Vec<f64>| -> Vec<f64> {
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    };
    for shift in [800.0, -800.0] {
        let big = z.add_scalar(shift);
        let g = log_sum_exp_rows_grad(&big);
        assert!(g.iter().all(|v| v.is_finite()), "{g}");
        for i in 0..3 {
            let want = softmax(big.row(i).iter().cloned().collect());
            for (j, w) in want.iter().enumerate() {
                assert!((g[(i, j)] - w).abs() < 1e-12, "{g}");
            }
        }
        let v = DVector::from_vec(vec![shift, shift + 1.0, shift - 2.0]);
        let g = log_sum_exp_grad(&v);
        let want = softmax(v.iter().cloned().collect());
        for k in 0..3 {
            assert!((g[k] - want[k]).abs() < 1e-12, "{g}");
        }
        assert!(log_sum_exp(&v).is_finite());
    }
}

// Views with constant bounds: the adjoint lands in the viewed block.
#[gradient(wrt = x)]
fn views(x: &DMatrix<f64>) -> f64 {
    x.column(1).norm_squared()
        + x.row(2).sum() * x.view((1, 1), (2, 2)).determinant()
        + x.rows(1, 2).component_mul(&x.rows(2, 2)).sum()
        + x.columns(0, 2).map(|v| v.sin()).sum()
        + x.fixed_rows::<1>(3).norm()
}

#[test]
fn views_scatter_into_the_variable() {
    let mut r = rng(915);
    let x = mat(&mut r, 4, 3);
    assert_close(&views_grad(&x), &fd(&x, views), 1e-6);
}

#[gradient(wrt = (a, b))]
fn cross_normalize(a: &Vector3<f64>, b: &Vector3<f64>, c: &Vector3<f64>) -> f64 {
    a.cross(b).dot(c) + a.normalize().dot(b) + a.xy().norm_squared()
}

#[test]
fn cross_and_normalize() {
    let (a, b, c) = (
        Vector3::new(0.3, -1.2, 0.7),
        Vector3::new(1.1, 0.4, -0.5),
        Vector3::new(-0.2, 0.9, 0.6),
    );
    let (ga, gb) = cross_normalize_grad(&a, &b, &c);
    // ∂ (a × b)·c/∂a = b × c, ∂/∂b = c × a; ∂ (a/‖a‖)·b/∂a = (b − (âᵀb) â)/‖a‖.
    let n = a.norm();
    let ah = a / n;
    let mut want_a = b.cross(&c) + (b - ah * ah.dot(&b)) / n;
    want_a[0] += 2.0 * a[0];
    want_a[1] += 2.0 * a[1];
    assert_close(&ga, &want_a, 1e-12);
    assert_close(&gb, &(c.cross(&a) + ah), 1e-12);
    assert_close(&ga, &fd(&a, |a| cross_normalize(a, &b, &c)), 1e-6);
}

// Stable scalar forms: softplus written with max and ln_1p, and sqrt at 0.
#[gradient(wrt = z, hessian)]
fn stable_softplus(z: &DVector<f64>) -> f64 {
    z.map(|v| v.max(0.0) + (-v.abs()).exp().ln_1p()).sum()
}

#[gradient(wrt = z)]
fn root_sum(z: &DVector<f64>) -> f64 {
    z.map(|v| v.sqrt()).sum()
}

#[test]
fn stable_softplus_and_sqrt_at_zero() {
    // The written form has two kinks at 0 (max and abs); the function is smooth there, and
    // so is its derivative: σ(0) = ½, σ′(0) = ¼, as everywhere else.
    let z = DVector::from_vec(vec![-800.0, -3.0, 0.0, 0.5, 2.0, 800.0]);
    let g = stable_softplus_grad(&z);
    let h = stable_softplus_hessian(&z);
    for k in 0..6 {
        let sigmoid = 1.0 / (1.0 + (-z[k]).exp());
        assert!((g[k] - sigmoid).abs() < 1e-15, "{g}");
        assert!((h[(k, k)] - sigmoid * (1.0 - sigmoid)).abs() < 1e-15, "{h}");
    }
    assert_eq!(g[2], 0.5);
    assert_eq!(h[(2, 2)], 0.25);
    assert!(stable_softplus(&z).is_finite());
    let small = DVector::from_vec(vec![-0.7, 0.3, 1.9]);
    assert_close(
        &stable_softplus_grad(&small),
        &fd(&small, stable_softplus),
        1e-6,
    );
    // d√v/dv = 1/(2√v): infinite at 0, as documented.
    let g = root_sum_grad(&DVector::from_vec(vec![0.0, 4.0]));
    assert_eq!(g[0], f64::INFINITY);
    assert_eq!(g[1], 0.25);
    assert_eq!(root_sum(&DVector::from_vec(vec![0.0, 4.0])), 2.0);
}
