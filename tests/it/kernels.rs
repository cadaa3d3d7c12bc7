//! Issue 16: the large factorisations go through faer (`matgrad::kernels`, feature `faer`, on by
//! default) from the orders in `src/kernels.rs`. At an order above every threshold: the run-time
//! helpers against nalgebra's own results, singular and indefinite matrices reported as
//! nalgebra reports them, and generated gradients against their closed forms and central
//! differences along random directions (a full difference quotient would cost n² evaluations).

use matgrad::__private as rt;
use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

use crate::support::*;

/// Above `LU_FROM`, `INVERSE_FROM` and `CHOLESKY_FROM`.
const N: usize = 70;

/// ⟨G, D⟩ against (f(X + hD) − f(X − hD)) / 2h for a few random directions D.
fn check_directions(x: &DMatrix<f64>, g: &DMatrix<f64>, f: impl Fn(&DMatrix<f64>) -> f64) {
    let mut r = rng(1616);
    for _ in 0..3 {
        let d = mat(&mut r, x.nrows(), x.ncols());
        let h = 1e-6;
        let quotient = (f(&(x + &d * h)) - f(&(x - &d * h))) / (2.0 * h);
        let want = g.dot(&d);
        assert!(
            (quotient - want).abs() <= 1e-6 * (1.0 + want.abs()),
            "directional derivative {quotient} against ⟨G, D⟩ = {want}"
        );
    }
}

#[test]
fn helpers_agree_with_nalgebra_above_the_thresholds() {
    let mut r = rng(1601);
    let (x, s, b) = (
        well_conditioned(&mut r, N),
        spd(&mut r, N),
        mat(&mut r, N, 3),
    );
    let inv = x.clone().try_inverse().unwrap();
    assert_close(&rt::try_inverse(&x).unwrap(), &inv, 1e-10);
    assert_close_scalar(rt::determinant(&x), x.determinant(), 1e-10);
    let l = s.clone().cholesky().unwrap().unpack();
    assert_close(&rt::cholesky(&s).unwrap(), &l, 1e-10);
    let lu = rt::Lu::new(&x, None);
    assert_close(&lu.solve(&b), &(&inv * &b), 1e-10);
    assert_close(&lu.solve_transposed(&b), &(inv.transpose() * &b), 1e-10);
    // A view (strided storage) is read as nalgebra reads it.
    let big = mat(&mut r, N + 5, N + 2);
    let v = big.view((2, 1), (N, N));
    assert_close(
        &rt::try_inverse(&v).unwrap(),
        &v.clone_owned().try_inverse().unwrap(),
        1e-8,
    );
}

#[test]
fn singular_and_indefinite_matrices_are_reported_as_nalgebra_reports_them() {
    let mut r = rng(1602);
    let mut x = well_conditioned(&mut r, N);
    x.column_mut(1).fill(0.0); // a zero column: singular, U has an exact zero
    assert!(x.clone().try_inverse().is_none() && rt::try_inverse(&x).is_none());
    assert_eq!(rt::determinant(&x), 0.0);
    let nan = rt::Lu::new(&x, None).solve(&vec(&mut r, N));
    assert!(nan.iter().all(|v| v.is_nan()));
    let mut s = spd(&mut r, N);
    s[(N - 1, N - 1)] = -1.0;
    assert!(s.clone().cholesky().is_none() && rt::cholesky(&s).is_none());
}

#[test]
#[should_panic(expected = "singular on purpose")]
fn a_singular_solve_panics_with_the_generated_message() {
    let x = DMatrix::<f64>::zeros(N, N);
    let _ = rt::Lu::new(&x, Some("singular on purpose")).solve(&DVector::zeros(N));
}

// ½ ln det Σ + ½ rᵀ Σ⁻¹ r: the inverse by faer.
#[gradient(wrt = sigma)]
fn gaussian_nll(r: &DVector<f64>, sigma: &DMatrix<f64>) -> f64 {
    0.5 * sigma.determinant().ln() + 0.5 * r.dot(&(sigma.clone().try_inverse().unwrap() * r))
}

// aᵀ X⁻¹ b: an LU kept for solves, by faer.
#[gradient(wrt = x)]
fn bilinear_inverse(a: &DVector<f64>, x: &DMatrix<f64>, b: &DVector<f64>) -> f64 {
    a.dot(&(x.clone().try_inverse().unwrap() * b))
}

// ln det A = 2 Σ ln Lᵢᵢ through the Cholesky factor, by faer.
#[gradient(wrt = a)]
fn chol_log_det(a: &DMatrix<f64>) -> f64 {
    let l = a.clone().cholesky().unwrap().l();
    2.0 * l.diagonal().map(|v| v.ln()).sum()
}

#[test]
fn gradients_through_faer_match_closed_forms_and_differences() {
    let mut r = rng(1603);
    let (res, sigma) = (vec(&mut r, N), spd(&mut r, N));
    let si = sigma.clone().try_inverse().unwrap().transpose();
    let want = &si * 0.5 - (&si * &res) * (&si * &res).transpose() * 0.5;
    let g = gaussian_nll_grad(&res, &sigma);
    assert_close(&g, &want, 1e-9);
    let (v, g2) = gaussian_nll_value_and_grad(&res, &sigma);
    assert_close_scalar(v, gaussian_nll(&res, &sigma), 1e-10);
    assert_close(&g2, &g, 1e-12);
    check_directions(&sigma, &g, |s| gaussian_nll(&res, s));

    let (a, x, b) = (vec(&mut r, N), well_conditioned(&mut r, N), vec(&mut r, N));
    let xi = x.clone().try_inverse().unwrap();
    let g = bilinear_inverse_grad(&a, &x, &b);
    assert_close(&g, &(-(xi.transpose() * &a) * (&xi * &b).transpose()), 1e-9);
    check_directions(&x, &g, |x| bilinear_inverse(&a, x, &b));

    let s = spd(&mut r, N);
    let g = chol_log_det_grad(&s);
    // Only the lower triangle is read: the gradient is 2 tril(A⁻¹) − diag(A⁻¹).
    let si = s.clone().try_inverse().unwrap();
    let mut want = si.lower_triangle() * 2.0;
    want.set_diagonal(&si.diagonal());
    assert_close(&g, &want, 1e-9);
    check_directions(&s, &g, chol_log_det);
}

// Xᵀ f(X w) in one pass over X (`tr_mul_map`) from `ONE_PASS_FROM` entries on: 300×121 has
// 36 300 entries, a row count that is no multiple of the block, a column count no multiple of 4.
// Below, r on the stack (up to 64 rows) or nalgebra's two passes.
#[gradient(wrt = w)]
fn least_squares(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (x * w - y).norm_squared()
}

#[gradient(wrt = w)]
fn logistic(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let z = x * w;
    z.map(|v| v.exp().ln_1p()).sum() - y.dot(&z)
}

#[test]
fn one_pass_gradients_match_the_two_pass_closed_forms() {
    let mut r = rng(1604);
    // (3001×90: 270 090 entries, split among threads with the feature `parallel`)
    let sizes = [
        (300, 121),
        (5000, 7),
        (40, 1000),
        (3001, 90),
        // r on the stack; the one-pass kernel with z on the stack (40×10, 64×16); two passes
        // (65×6: more rows than the stack holds, fewer entries than the kernel takes); none.
        (20, 5),
        (64, 6),
        (40, 10),
        (64, 16),
        (65, 6),
        (1, 1),
        (0, 3),
    ];
    for (m, n) in sizes {
        let (x, w, y) = (mat(&mut r, m, n), vec(&mut r, n), vec(&mut r, m));
        let res = &x * &w - &y;
        assert_close(
            &least_squares_grad(&x, &w, &y),
            &(x.tr_mul(&res) * 2.0),
            1e-12,
        );
        let s = (&x * &w).map(|v| 1.0 / (1.0 + (-v).exp())) - &y;
        assert_close(&logistic_grad(&x, &w, &y), &x.tr_mul(&s), 1e-12);
    }
    let (x, w, y) = (mat(&mut r, 300, 121), vec(&mut r, 121), vec(&mut r, 300));
    let g = least_squares_grad(&x, &w, &y);
    let gm = DMatrix::from_column_slice(121, 1, g.as_slice());
    let wm = DMatrix::from_column_slice(121, 1, w.as_slice());
    check_directions(&wm, &gm, |w| {
        least_squares(&x, &DVector::from_column_slice(w.as_slice()), &y)
    });
    let y01 = y.map(|v| if v > 0.0 { 1.0 } else { 0.0 });
    let gm = DMatrix::from_column_slice(121, 1, logistic_grad(&x, &w, &y01).as_slice());
    check_directions(&wm, &gm, |w| {
        logistic(&x, &DVector::from_column_slice(w.as_slice()), &y01)
    });
    // A w that is not one run of memory (every third entry of a slice) is copied for the kernel.
    use matgrad::nalgebra::{Dyn, MatrixView, U1};
    let data: Vec<f64> = (0..363).map(|k| (k as f64 * 0.37).sin()).collect();
    let ws = MatrixView::<f64, Dyn, U1, Dyn, Dyn>::from_slice_with_strides_generic(
        &data,
        Dyn(121),
        U1,
        Dyn(3),
        Dyn(363),
    );
    assert_close(
        &rt::tr_mul_map(&x, &ws, [y.as_slice()], |z, [yi]| z - yi),
        &x.tr_mul(&(&x * ws - &y)),
        1e-12,
    );
    // A strided view of X is not one run of memory: the two-pass path.
    let big = mat(&mut r, 310, 121);
    let v = big.view((5, 0), (300, 121));
    let want = v.tr_mul(&(v * &w - &y));
    assert_close(
        &rt::tr_mul_map(&v, &w, [y.as_slice()], |z, [yi]| z - yi),
        &want,
        1e-12,
    );
}

#[test]
fn matrix_powers_through_faer_agree_with_repeated_products() {
    let mut r = rng(1605);
    let x = mat(&mut r, N, N) * 0.2;
    let mut want = x.clone();
    for k in 1..=7u32 {
        assert_close(&rt::matrix_power(&x, k), &want, 1e-10);
        want = &want * &x;
    }
    let s = matgrad::nalgebra::Matrix3::new(0.5, 0.1, -0.2, 0.3, 0.9, 0.0, -0.4, 0.2, 0.7);
    assert!((rt::matrix_power(&s, 3) - s * s * s).norm() < 1e-14);
}

#[test]
#[should_panic(expected = "non-square")]
fn a_non_square_matrix_is_reported_by_nalgebra_as_before() {
    let _ = rt::try_inverse(&DMatrix::<f64>::zeros(N, N + 1));
}
