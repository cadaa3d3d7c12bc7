//! Issue 9.1: linear solves and factorisations on the active path — LU solves, triangular
//! solves, Cholesky (`solve`, `l`, `inverse`, `determinant`, log det through the factor) —
//! each against central differences and its closed form, on rectangular right-hand sides.

use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

use crate::support::*;

// f = cᵀ A⁻¹ B d with A⁻¹B by an LU solve: ∂f/∂B = A⁻ᵀ c dᵀ, ∂f/∂A = −A⁻ᵀ c (A⁻¹B d)ᵀ.
#[gradient(wrt = (a, b))]
fn lu_solve(a: &DMatrix<f64>, b: &DMatrix<f64>, c: &DVector<f64>, d: &DVector<f64>) -> f64 {
    let x = a.clone().lu().solve(b).unwrap();
    c.dot(&(x * d))
}

#[test]
fn lu_solve_matches_closed_form_and_differences() {
    let mut r = rng(901);
    let (a, b) = (well_conditioned(&mut r, 4), mat(&mut r, 4, 3));
    let (c, d) = (vec(&mut r, 4), vec(&mut r, 3));
    let (ga, gb) = lu_solve_grad(&a, &b, &c, &d);
    let at_inv = a.clone().try_inverse().unwrap().transpose();
    let x = a.clone().lu().solve(&b).unwrap();
    assert_close(&gb, &(&at_inv * &c * d.transpose()), 1e-10);
    assert_close(&ga, &(-(&at_inv * &c) * (x * &d).transpose()), 1e-10);
    assert_close(&ga, &fd(&a, |a| lu_solve(a, &b, &c, &d)), 1e-6);
    assert_close(&gb, &fd(&b, |b| lu_solve(&a, b, &c, &d)), 1e-6);
    assert!(
        LU_SOLVE_GRAD_FORMULA.contains("a⁻"),
        "{LU_SOLVE_GRAD_FORMULA}"
    );
}

// The determinant through the LU factorisation, and its log.
#[gradient(wrt = a)]
fn lu_log_det(a: &DMatrix<f64>) -> f64 {
    let lu = a.clone().lu();
    lu.determinant().abs().ln()
}

#[test]
fn lu_determinant() {
    let mut r = rng(902);
    let a = well_conditioned(&mut r, 4);
    let g = lu_log_det_grad(&a);
    assert_close(&g, &a.clone().try_inverse().unwrap().transpose(), 1e-10);
    assert_close(&g, &fd(&a, lu_log_det), 1e-6);
}

// A triangular solve reads only its triangle: the gradient is zero in the other one.
#[gradient(wrt = (l, b))]
fn lower_solve(l: &DMatrix<f64>, b: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    l.solve_lower_triangular(b).unwrap().component_mul(w).sum()
}

#[gradient(wrt = u)]
fn upper_solve(u: &DMatrix<f64>, b: &DVector<f64>) -> f64 {
    u.solve_upper_triangular(b).unwrap().norm_squared()
}

#[test]
fn triangular_solves() {
    let mut r = rng(903);
    let l = well_conditioned(&mut r, 4);
    let (b, w) = (mat(&mut r, 4, 3), mat(&mut r, 4, 3));
    let (gl, gb) = lower_solve_grad(&l, &b, &w);
    assert_close(&gl, &fd(&l, |l| lower_solve(l, &b, &w)), 1e-6);
    assert_close(&gb, &fd(&b, |b| lower_solve(&l, b, &w)), 1e-6);
    // Closed form: B̄ = T⁻ᵀ W, L̄ = tril(−B̄ Xᵀ) with T the lower triangle.
    let t = l.lower_triangle();
    let x = t.clone().try_inverse().unwrap() * &b;
    let bbar = t.clone().try_inverse().unwrap().transpose() * &w;
    assert_close(&gb, &bbar, 1e-10);
    assert_close(&gl, &(-&bbar * x.transpose()).lower_triangle(), 1e-10);
    for i in 0..4 {
        for j in i + 1..4 {
            assert_eq!(gl[(i, j)], 0.0, "the upper triangle is not read");
        }
    }
    let u = well_conditioned(&mut r, 3);
    let bv = vec(&mut r, 3);
    assert_close(
        &upper_solve_grad(&u, &bv),
        &fd(&u, |u| upper_solve(u, &bv)),
        1e-6,
    );
}

// yᵀ A⁻¹ y through the Cholesky factor, and log det A = 2 Σ ln Lᵢᵢ.
#[gradient(wrt = a)]
fn chol_quadratic(a: &DMatrix<f64>, y: &DVector<f64>) -> f64 {
    let chol = a.clone().cholesky().unwrap();
    y.dot(&chol.solve(y))
}

#[gradient(wrt = a)]
fn chol_log_det(a: &DMatrix<f64>) -> f64 {
    let l = a.clone().cholesky().expect("positive definite").l();
    2.0 * l.diagonal().map(|v| v.ln()).sum()
}

#[gradient(wrt = a)]
fn chol_determinant(a: &DMatrix<f64>) -> f64 {
    a.clone().cholesky().unwrap().determinant()
}

#[gradient(wrt = a)]
fn chol_inverse_trace(a: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    (a.clone().cholesky().unwrap().inverse() * c).trace()
}

/// Cholesky reads the lower triangle of A: a symmetric perturbation εE of A moves it by ε
/// times the sum of the gradient over E's two mirrored entries, which for a symmetric closed
/// form G is ⟨G, E⟩.
fn lower_reading(g: &DMatrix<f64>) -> DMatrix<f64> {
    // The gradient of the symmetric closed form, as the lower-triangle reader sees it:
    // G_ii on the diagonal, G_ij + G_ji below, zero above.
    let n = g.nrows();
    DMatrix::from_fn(n, n, |i, j| {
        if i == j {
            g[(i, i)]
        } else if i > j {
            g[(i, j)] + g[(j, i)]
        } else {
            0.0
        }
    })
}

#[test]
fn cholesky_solve_log_det_determinant_inverse() {
    let mut r = rng(904);
    let a = spd(&mut r, 4);
    let y = vec(&mut r, 4);
    let inv = a.clone().try_inverse().unwrap();

    // ∂(yᵀA⁻¹y)/∂A = −A⁻¹ y yᵀ A⁻¹ (symmetric), read from the lower triangle.
    let g = chol_quadratic_grad(&a, &y);
    let closed = -(&inv * &y) * (&inv * &y).transpose();
    assert_close(&g, &lower_reading(&closed), 1e-9);
    assert_close(&g, &fd(&a, |a| chol_quadratic(a, &y)), 1e-6);

    // ∂ log det A/∂A = A⁻¹.
    let g = chol_log_det_grad(&a);
    assert_close(&g, &lower_reading(&inv), 1e-9);
    assert_close(&g, &fd(&a, chol_log_det), 1e-6);
    assert_close_scalar(chol_log_det(&a), a.determinant().ln(), 1e-12);

    // ∂ det A/∂A = det A · A⁻¹.
    let g = chol_determinant_grad(&a);
    assert_close(&g, &lower_reading(&(&inv * a.determinant())), 1e-9);
    assert_close(&g, &fd(&a, chol_determinant), 1e-6);

    // ∂ tr(A⁻¹C)/∂A = −A⁻¹ C A⁻¹ (transposed), read from the lower triangle.
    let c = mat(&mut r, 4, 4);
    let g = chol_inverse_trace_grad(&a, &c);
    assert_close(&g, &fd(&a, |a| chol_inverse_trace(a, &c)), 1e-6);
}

#[test]
#[should_panic(expected = "is not positive definite")]
fn cholesky_of_an_indefinite_matrix_panics_like_the_original() {
    let a = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
    let _ = chol_log_det_grad(&a);
}

// The Cholesky factor itself, read entry by entry: the differential dL = L Φ(L⁻¹ dA L⁻ᵀ).
#[gradient(wrt = a)]
fn chol_factor_weighted(a: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    a.clone().cholesky().unwrap().l().component_mul(w).sum()
}

#[test]
fn cholesky_factor_by_differences() {
    let mut r = rng(905);
    let a = spd(&mut r, 5);
    let w = mat(&mut r, 5, 5);
    let g = chol_factor_weighted_grad(&a, &w);
    assert_close(&g, &fd(&a, |a| chol_factor_weighted(a, &w)), 1e-6);
    assert!(
        CHOL_FACTOR_WEIGHTED_GRAD_FORMULA.contains("Φ"),
        "{CHOL_FACTOR_WEIGHTED_GRAD_FORMULA}"
    );
}

// Second order through the factorisations: forward-over-reverse through Cholesky and the
// triangular solves, against differences of the generated gradient.
#[gradient(wrt = theta, hessian)]
fn gp_hessian(theta: &DVector<f64>, r: &DMatrix<f64>, y: &DVector<f64>) -> f64 {
    let ell = theta[0].exp();
    let sn2 = theta[1].exp();
    let n = y.len();
    let k = r.map(|d| (-0.5 * d * d / (ell * ell)).exp()) + DMatrix::identity(n, n) * sn2;
    let chol = k.cholesky().unwrap();
    0.5 * y.dot(&chol.solve(y)) + chol.ln_determinant() * 0.5
}

#[gradient(wrt = (a, b), hessian)]
fn solve_hessian(a: &DMatrix<f64>, b: &DVector<f64>, c: &DVector<f64>) -> f64 {
    let x = a.clone().lu().solve(b).unwrap();
    c.dot(&x) * x.norm_squared()
}

#[test]
fn hessians_through_factorisations() {
    let t = [0.0, 0.4, 0.9, 1.7, 2.0];
    let r = DMatrix::from_fn(5, 5, |i, j| (t[i] - t[j]) * (t[i] - t[j]));
    let r = r.map(|v: f64| v.sqrt());
    let y = DVector::from_vec(vec![0.3, -0.1, 0.8, 0.2, -0.5]);
    let theta = DVector::from_vec(vec![0.2, -1.0]);
    let h = gp_hessian_hessian(&theta, &r, &y);
    let fd_h = DMatrix::from_fn(2, 2, |i, j| {
        let step = 1e-6;
        let mut tp = theta.clone();
        tp[j] += step;
        let mut tm = theta.clone();
        tm[j] -= step;
        (gp_hessian_grad(&tp, &r, &y)[i] - gp_hessian_grad(&tm, &r, &y)[i]) / (2.0 * step)
    });
    assert_close(&h, &fd_h, 1e-6);
    assert_close(&h, &h.transpose(), 1e-10);
    assert_close(
        &gp_hessian_grad(&theta, &r, &y),
        &fd(&theta, |t| gp_hessian(t, &r, &y)),
        1e-6,
    );

    let mut rg = rng(906);
    let (a, b, c) = (
        well_conditioned(&mut rg, 3),
        vec(&mut rg, 3),
        vec(&mut rg, 3),
    );
    let (da, db) = (mat(&mut rg, 3, 3), vec(&mut rg, 3));
    let (ha, hb) = solve_hessian_hvp(&a, &b, &c, (&da, &db));
    let step = 1e-6;
    let (gpa, gpb) = solve_hessian_grad(&(&a + &da * step), &(&b + &db * step), &c);
    let (gma, gmb) = solve_hessian_grad(&(&a - &da * step), &(&b - &db * step), &c);
    assert_close(&ha, &((gpa - gma) / (2.0 * step)), 1e-6);
    assert_close(&hb, &((gpb - gmb) / (2.0 * step)), 1e-6);
    let (ga, gb) = solve_hessian_grad(&a, &b, &c);
    assert_close(&ga, &fd(&a, |a| solve_hessian(a, &b, &c)), 1e-6);
    assert_close(&gb, &fd(&b, |b| solve_hessian(&a, b, &c)), 1e-6);
}

#[test]
#[should_panic(expected = "lu_solve_grad: cannot solve with `a`: the matrix is singular")]
fn a_singular_lu_solve_panics_like_the_original_and_says_so() {
    let a = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 4.0]);
    let b = DMatrix::from_row_slice(2, 1, &[1.0, 0.0]);
    let (c, d) = (
        DVector::from_vec(vec![1.0, 1.0]),
        DVector::from_vec(vec![1.0]),
    );
    assert!(std::panic::catch_unwind(|| lu_solve(&a, &b, &c, &d)).is_err());
    let _ = lu_solve_grad(&a, &b, &c, &d);
}

// The same operations on static matrices, in f32 and for a generic scalar type.
#[gradient(wrt = a)]
fn static_chol_log_det(
    a: &matgrad::nalgebra::Matrix3<f64>,
    y: &matgrad::nalgebra::Vector3<f64>,
) -> f64 {
    let chol = a.cholesky().unwrap();
    chol.ln_determinant() + y.dot(&chol.solve(y)) + a.row_sum().sum() * a.diagonal().max()
}

#[gradient(wrt = a)]
fn f32_lu_solve(a: &DMatrix<f32>, b: &DVector<f32>) -> f32 {
    let x = a.clone().lu().solve(b).unwrap();
    x.norm_squared() + a.column(0).sum()
}

#[gradient(wrt = a)]
fn generic_chol<T: matgrad::nalgebra::RealField + Copy>(a: &DMatrix<T>, y: &DVector<T>) -> T {
    let l = a.clone().cholesky().unwrap().l();
    y.dot(&l.solve_lower_triangular(y).unwrap()) + l.diagonal().map(|v| v.ln()).sum()
}

#[test]
fn factorisations_in_static_f32_and_generic_forms() {
    let mut r = rng(907);
    let a = spd(&mut r, 3);
    let y = vec(&mut r, 3);
    let (sa, sy) = (
        matgrad::nalgebra::Matrix3::from_iterator(a.iter().cloned()),
        matgrad::nalgebra::Vector3::from_iterator(y.iter().cloned()),
    );
    let g = static_chol_log_det_grad(&sa, &sy);
    let want = fd(&a, |a| {
        static_chol_log_det(
            &matgrad::nalgebra::Matrix3::from_iterator(a.iter().cloned()),
            &sy,
        )
    });
    assert_close(
        &DMatrix::from_iterator(3, 3, g.iter().cloned()),
        &want,
        1e-6,
    );

    let a32 = well_conditioned(&mut r, 4).map(|v| v as f32);
    let b32 = vec(&mut r, 4).map(|v| v as f32);
    let g = f32_lu_solve_grad(&a32, &b32).map(f64::from);
    // closed form, in f64: −A⁻ᵀ (2x) xᵀ with x = A⁻¹b, plus ones in column 0
    let (a64, b64) = (a32.map(f64::from), b32.map(f64::from));
    let x = a64.clone().lu().solve(&b64).unwrap();
    let mut want = -(a64.clone().try_inverse().unwrap().transpose() * (&x * 2.0)) * x.transpose();
    want.column_mut(0).add_scalar_mut(1.0);
    assert_close(&g, &want, 1e-4);
    let value = f64::from(f32_lu_solve(&a32, &b32));
    assert!((value - (x.norm_squared() + a64.column(0).sum())).abs() < 1e-4 * value.abs());

    let g = generic_chol_grad(&a, &y);
    assert_close(&g, &fd(&a, |a| generic_chol(a, &y)), 1e-6);
}
