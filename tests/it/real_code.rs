//! Issue 9.5: objectives as their authors write them — Gaussian-process likelihoods through the
//! Cholesky factor, softmax regression and a dense tanh layer with biases added through a
//! vector of ones, and a curve-fit Jacobian whose size comes from the data.

use matgrad::nalgebra::{DMatrix, DVector, RowDVector};
use matgrad::{gradient, jacobian};

use crate::support::*;

/// Pairwise distances of points on a line (constant inputs of the kernels).
fn distances(t: &[f64]) -> DMatrix<f64> {
    DMatrix::from_fn(t.len(), t.len(), |i, j| (t[i] - t[j]).abs())
}

// The negative log marginal likelihood of a GP with a squared-exponential kernel, in the
// hyperparameters θ = (ln ℓ, ln σ_f, ln σ_n), written the way GP crates write it.
#[gradient(wrt = theta)]
fn gp_se_nll(theta: &DVector<f64>, r: &DMatrix<f64>, y: &DVector<f64>) -> f64 {
    let ell = theta[0].exp();
    let sf2 = (2.0 * theta[1]).exp();
    let sn2 = (2.0 * theta[2]).exp();
    let n = y.len();
    let k = r.map(|d| sf2 * (-0.5 * d * d / (ell * ell)).exp()) + DMatrix::identity(n, n) * sn2;
    let chol = k.cholesky().unwrap();
    let alpha = chol.solve(y);
    let log_det = 2.0 * chol.l().diagonal().map(|v| v.ln()).sum();
    0.5 * y.dot(&alpha) + 0.5 * log_det + 0.5 * (n as f64) * (2.0 * std::f64::consts::PI).ln()
}

// The same with a Matérn 5/2 kernel: σ_f² (1 + √5 d/ℓ + 5d²/(3ℓ²)) exp(−√5 d/ℓ).
#[gradient(wrt = theta)]
fn gp_matern52_nll(theta: &DVector<f64>, r: &DMatrix<f64>, y: &DVector<f64>) -> f64 {
    let ell = theta[0].exp();
    let sf2 = (2.0 * theta[1]).exp();
    let sn2 = (2.0 * theta[2]).exp();
    let s5 = 5.0_f64.sqrt();
    let n = y.len();
    let k = r.map(|d| {
        sf2 * (1.0 + s5 * d / ell + 5.0 * d * d / (3.0 * ell * ell)) * (-s5 * d / ell).exp()
    }) + DMatrix::identity(n, n) * sn2;
    let l = k
        .cholesky()
        .expect("kernel matrix is positive definite")
        .l();
    let z = l.solve_lower_triangular(y).unwrap();
    0.5 * z.norm_squared() + l.diagonal().map(|v| v.ln()).sum()
}

/// The textbook gradient: ∂/∂θⱼ = ½ tr((K⁻¹ − α αᵀ) ∂K/∂θⱼ), α = K⁻¹y.
fn gp_closed_form(k: &DMatrix<f64>, dk: [DMatrix<f64>; 3], y: &DVector<f64>) -> DVector<f64> {
    let kinv = k.clone().try_inverse().unwrap();
    let alpha = &kinv * y;
    let m = &kinv - &alpha * alpha.transpose();
    DVector::from_fn(3, |j, _| 0.5 * (&m * &dk[j]).trace())
}

#[test]
fn gaussian_process_likelihoods() {
    let t = [0.0, 0.3, 0.7, 1.2, 1.9, 2.4, 3.1];
    let r = distances(&t);
    let y = DVector::from_vec(vec![0.1, 0.5, 0.9, 0.7, -0.2, -0.6, -0.1]);
    let theta: DVector<f64> = DVector::from_vec(vec![-0.1, 0.2, -1.3]);
    let (ell, sf2, sn2) = (
        theta[0].exp(),
        (2.0 * theta[1]).exp(),
        (2.0 * theta[2]).exp(),
    );
    let n = t.len();

    let g = gp_se_nll_grad(&theta, &r, &y);
    assert_close(&g, &fd(&theta, |th| gp_se_nll(th, &r, &y)), 1e-6);
    let kse = r.map(|d| sf2 * (-0.5 * d * d / (ell * ell)).exp());
    let k = &kse + DMatrix::identity(n, n) * sn2;
    let dk = [
        kse.zip_map(&r, |kv, d| kv * d * d / (ell * ell)),
        &kse * 2.0,
        DMatrix::identity(n, n) * (2.0 * sn2),
    ];
    assert_close(&g, &gp_closed_form(&k, dk, &y), 1e-9);
    // Too long to read inline, the formula names what the body named, and the chain rule's
    // steps ∂f/∂k, ∂f/∂ell: a derivation a reader can follow. The Cholesky factor is L, and the
    // half of the symmetrisation that repeats is named once (M); no line is longer than a line
    // of text.
    let formula = GP_SE_NLL_GRAD_FORMULA;
    for part in [
        "where ell = exp(theta[0])",
        "k = sf2 exp(P) + sn2 I",
        "L = chol(k)",
        "∂f/∂k = Φ(L⁻ᵀ(M + Mᵀ) L⁻¹)",
    ] {
        assert!(formula.contains(part), "{part} in {formula}");
    }
    assert!(
        formula.lines().all(|l| l.chars().count() <= 110),
        "{formula}"
    );

    let g = gp_matern52_nll_grad(&theta, &r, &y);
    assert_close(&g, &fd(&theta, |th| gp_matern52_nll(th, &r, &y)), 1e-6);
    let s5 = 5.0_f64.sqrt();
    let km = r.map(|d| {
        sf2 * (1.0 + s5 * d / ell + 5.0 * d * d / (3.0 * ell * ell)) * (-s5 * d / ell).exp()
    });
    let k = &km + DMatrix::identity(n, n) * sn2;
    // ∂k/∂ln ℓ = σ_f² (5d²/(3ℓ²)) (1 + √5 d/ℓ) exp(−√5 d/ℓ)
    let dk = [
        r.map(|d| {
            sf2 * 5.0 * d * d / (3.0 * ell * ell) * (1.0 + s5 * d / ell) * (-s5 * d / ell).exp()
        }),
        &km * 2.0,
        DMatrix::identity(n, n) * (2.0 * sn2),
    ];
    assert_close(&g, &gp_closed_form(&k, dk, &y), 1e-9);
}

// Softmax regression with a bias: logits X W + 1 bᵀ, the stable row-wise log-sum-exp.
#[gradient(wrt = (w, b))]
fn softmax_nll(x: &DMatrix<f64>, w: &DMatrix<f64>, b: &DVector<f64>, y: &DMatrix<f64>) -> f64 {
    let ones = DVector::from_element(x.nrows(), 1.0);
    let logits = x * w + ones * b.transpose();
    let m = logits.max();
    let lse = logits
        .map(|v| (v - m).exp())
        .column_sum()
        .map(|v| v.ln())
        .add_scalar(m);
    lse.sum() - logits.component_mul(y).sum()
}

#[test]
fn softmax_regression_with_bias() {
    let mut r = rng(921);
    let (x, w, b) = (mat(&mut r, 6, 4), mat(&mut r, 4, 3), vec(&mut r, 3));
    let y = DMatrix::from_fn(6, 3, |i, j| if i % 3 == j { 1.0 } else { 0.0 });
    let (gw, gb) = softmax_nll_grad(&x, &w, &b, &y);
    assert_close(&gw, &fd(&w, |w| softmax_nll(&x, w, &b, &y)), 1e-6);
    assert_close(&gb, &fd(&b, |b| softmax_nll(&x, &w, b, &y)), 1e-6);
    // Closed form: P − Y with P the row softmax; ∂/∂W = Xᵀ(P − Y), ∂/∂b = (P − Y)ᵀ 1.
    let logits = &x * &w + DVector::from_element(6, 1.0) * b.transpose();
    let p = DMatrix::from_fn(6, 3, |i, j| {
        let row = logits.row(i);
        let m = row.max();
        (logits[(i, j)] - m).exp() / row.map(|v| (v - m).exp()).sum()
    });
    assert_close(&gw, &(x.transpose() * (&p - &y)), 1e-10);
    assert_close(&gb, &(&p - &y).row_sum().transpose(), 1e-10);
    assert!(
        SOFTMAX_NLL_GRAD_FORMULA.contains("1"),
        "{SOFTMAX_NLL_GRAD_FORMULA}"
    );
}

// A dense tanh layer with a bias on the columns (samples as columns), through a squared-error head.
#[gradient(wrt = (w, b))]
fn tanh_layer(x: &DMatrix<f64>, w: &DMatrix<f64>, b: &DVector<f64>, y: &DMatrix<f64>) -> f64 {
    let ones = RowDVector::from_element(x.ncols(), 1.0);
    let h = (w * x + b * ones).map(|v| v.tanh());
    (h - y).norm_squared()
}

#[test]
fn dense_tanh_layer_with_bias() {
    let mut r = rng(922);
    let (x, w, b, y) = (
        mat(&mut r, 4, 7),
        mat(&mut r, 3, 4),
        vec(&mut r, 3),
        mat(&mut r, 3, 7),
    );
    let (gw, gb) = tanh_layer_grad(&x, &w, &b, &y);
    assert_close(&gw, &fd(&w, |w| tanh_layer(&x, w, &b, &y)), 1e-6);
    assert_close(&gb, &fd(&b, |b| tanh_layer(&x, &w, b, &y)), 1e-6);
    // δ = 2 (H − Y) ⊙ (1 − H⊙H): ∂/∂W = δ Xᵀ, ∂/∂b = δ 1
    let h = (&w * &x + &b * RowDVector::from_element(7, 1.0)).map(|v| v.tanh());
    let delta = (&h - &y).component_mul(&h.map(|v| 1.0 - v * v)) * 2.0;
    assert_close(&gw, &(&delta * x.transpose()), 1e-10);
    assert_close(&gb, &delta.column_sum(), 1e-10);
}

// Michaelis–Menten rates v = V s / (K + s): the residuals' Jacobian has one row per data point.
#[jacobian(wrt = p)]
fn michaelis_menten(p: &DVector<f64>, s: &DVector<f64>, v: &DVector<f64>) -> DVector<f64> {
    s.map(|si| p[0] * si / (p[1] + si)) - v
}

#[test]
fn michaelis_menten_jacobian_sized_by_the_data() {
    let p = DVector::from_vec(vec![0.36, 0.56]);
    for n in [3, 7, 12] {
        let s = DVector::from_fn(n, |i, _| 0.02 + 0.3 * i as f64);
        let v = s.map(|si| 0.35 * si / (0.6 + si) + 0.01);
        let j = michaelis_menten_jacobian(&p, &s, &v);
        assert_eq!(j.shape(), (n, 2));
        let closed = DMatrix::from_fn(n, 2, |i, k| {
            let si = s[i];
            if k == 0 {
                si / (p[1] + si)
            } else {
                -p[0] * si / ((p[1] + si) * (p[1] + si))
            }
        });
        assert_close(&j, &closed, 1e-12);
        let pm = DMatrix::from_column_slice(2, 1, p.as_slice());
        let fdj = fd_jacobian(&pm, &|q| {
            let q = DVector::from_column_slice(q.as_slice());
            let r = michaelis_menten(&q, &s, &v);
            DMatrix::from_column_slice(n, 1, r.as_slice())
        });
        assert_close(&j, &fdj, 1e-6);
    }
}
