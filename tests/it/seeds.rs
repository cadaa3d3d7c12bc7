//! Every scalar-valued worked example of the three seed documents (`shared/seeds/`), checked
//! against the seed's closed form, against central finite differences, and for its printed
//! formula. Shapes are rectangular wherever the example allows, so a missing transpose shows.

use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

use crate::support::*;

// ---- seed 000: the differential method --------------------------------------------------------

/// Seed 000, first example: y = aᵀXb, ∂y/∂X = a bᵀ.
#[gradient(wrt = x)]
fn a_x_b(a: &DVector<f64>, x: &DMatrix<f64>, b: &DVector<f64>) -> f64 {
    (a.transpose() * x * b)[(0, 0)]
}

#[test]
fn seed000_a_x_b() {
    let mut r = rng(10);
    let (a, x, b) = (vec(&mut r, 4), mat(&mut r, 4, 3), vec(&mut r, 3));
    let g = a_x_b_grad(&a, &x, &b);
    assert_close(&g, &(&a * b.transpose()), 1e-12);
    assert_close(&g, &fd(&x, |x| a_x_b(&a, x, &b)), 1e-6);
    let (v, g2) = a_x_b_value_and_grad(&a, &x, &b);
    assert_close_scalar(v, a_x_b(&a, &x, &b), 1e-14);
    assert_close(&g2, &g, 1e-14);
    assert_eq!(A_X_B_GRAD_FORMULA, "∂f/∂x = a bᵀ");
}

/// Seed 000: l = ‖Xw − y‖², ∂l/∂w = 2Xᵀ(Xw − y); setting it to zero gives w = (XᵀX)⁻¹Xᵀy.
#[gradient(wrt = w)]
fn linear_residual(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (x * w - y).norm_squared()
}

#[test]
fn seed000_least_squares() {
    let mut r = rng(11);
    let (x, w, y) = (mat(&mut r, 9, 4), vec(&mut r, 4), vec(&mut r, 9));
    let g = linear_residual_grad(&x, &w, &y);
    assert_close(&g, &(2.0 * x.transpose() * (&x * &w - &y)), 1e-12);
    assert_close(&g, &fd(&w, |w| linear_residual(&x, w, &y)), 1e-6);
    assert_eq!(LINEAR_RESIDUAL_GRAD_FORMULA, "∂f/∂w = 2 xᵀ(x w − y)");
    // The gradient vanishes at the normal-equations solution.
    let w_star = (x.transpose() * &x).try_inverse().unwrap() * x.transpose() * &y;
    assert!(linear_residual_grad(&x, &w_star, &y).norm() < 1e-10);
}

/// Seed 000: ∂tr(AB)/∂A = Bᵀ and ∂tr(AB)/∂B = Aᵀ.
#[gradient(wrt = (a, b))]
fn trace_ab(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a * b).trace()
}

#[test]
fn seed000_trace_of_product() {
    let mut r = rng(12);
    let (a, b) = (mat(&mut r, 3, 5), mat(&mut r, 5, 3));
    let (ga, gb) = trace_ab_grad(&a, &b);
    assert_close(&ga, &b.transpose(), 1e-12);
    assert_close(&gb, &a.transpose(), 1e-12);
    assert_close(&ga, &fd(&a, |a| trace_ab(a, &b)), 1e-6);
    assert_close(&gb, &fd(&b, |b| trace_ab(&a, b)), 1e-6);
    assert_eq!(TRACE_AB_GRAD_FORMULA, "∂f/∂a = bᵀ\n∂f/∂b = aᵀ");
}

/// Seed 000: ∂tr(WᵀAW)/∂W = (A + Aᵀ)W.
#[gradient(wrt = w)]
fn trace_wt_a_w(w: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 {
    (w.transpose() * a * w).trace()
}

#[test]
fn seed000_trace_wt_a_w() {
    let mut r = rng(13);
    let (w, a) = (mat(&mut r, 5, 3), mat(&mut r, 5, 5));
    let g = trace_wt_a_w_grad(&w, &a);
    assert_close(&g, &((&a + a.transpose()) * &w), 1e-12);
    assert_close(&g, &fd(&w, |w| trace_wt_a_w(w, &a)), 1e-6);
    assert_eq!(TRACE_WT_A_W_GRAD_FORMULA, "∂f/∂w = (a + aᵀ) w");
}

/// Seed 000: ∂tr(BᵀXᵀCXB)/∂X = (C + Cᵀ)XBBᵀ.
#[gradient(wrt = x)]
fn trace_bt_xt_c_x_b(b: &DMatrix<f64>, x: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    (b.transpose() * x.transpose() * c * x * b).trace()
}

#[test]
fn seed000_trace_bt_xt_c_x_b() {
    let mut r = rng(14);
    let (b, x, c) = (mat(&mut r, 3, 2), mat(&mut r, 4, 3), mat(&mut r, 4, 4));
    let g = trace_bt_xt_c_x_b_grad(&b, &x, &c);
    assert_close(&g, &((&c + c.transpose()) * &x * &b * b.transpose()), 1e-12);
    assert_close(&g, &fd(&x, |x| trace_bt_xt_c_x_b(&b, x, &c)), 1e-6);
    assert_eq!(TRACE_BT_XT_C_X_B_GRAD_FORMULA, "∂f/∂x = (c + cᵀ) x b bᵀ");
}

// ---- seed 003: layouts and dimension analysis ---------------------------------------------------

/// Seed 003: ∂(xᵀAx)/∂x = (A + Aᵀ)x.
#[gradient(wrt = x)]
fn quadratic_form(x: &DVector<f64>, a: &DMatrix<f64>) -> f64 {
    (x.transpose() * a * x)[(0, 0)]
}

#[test]
fn seed003_quadratic_form() {
    let mut r = rng(20);
    let (x, a) = (vec(&mut r, 4), mat(&mut r, 4, 4));
    let g = quadratic_form_grad(&x, &a);
    assert_close(&g, &((&a + a.transpose()) * &x), 1e-12);
    assert_close(&g, &fd(&x, |x| quadratic_form(x, &a)), 1e-6);
    assert_eq!(QUADRATIC_FORM_GRAD_FORMULA, "∂f/∂x = (a + aᵀ) x");
}

/// Seed 003: ∂(xᵀAy)/∂x = Ay (y constant), and ∂(xᵀAy)/∂y = Aᵀx; A rectangular.
#[gradient(wrt = (x, y))]
fn bilinear_form(x: &DVector<f64>, a: &DMatrix<f64>, y: &DVector<f64>) -> f64 {
    (x.transpose() * a * y)[(0, 0)]
}

#[test]
fn seed003_bilinear_form() {
    let mut r = rng(21);
    let (x, a, y) = (vec(&mut r, 4), mat(&mut r, 4, 6), vec(&mut r, 6));
    let (gx, gy) = bilinear_form_grad(&x, &a, &y);
    assert_close(&gx, &(&a * &y), 1e-12);
    assert_close(&gy, &(a.transpose() * &x), 1e-12);
    assert_close(&gx, &fd(&x, |x| bilinear_form(x, &a, &y)), 1e-6);
    assert_close(&gy, &fd(&y, |y| bilinear_form(&x, &a, y)), 1e-6);
    assert_eq!(BILINEAR_FORM_GRAD_FORMULA, "∂f/∂x = a y\n∂f/∂y = aᵀ x");
}

/// Seed 003: ∂(aᵀxxᵀb)/∂x = (abᵀ + baᵀ)x.
#[gradient(wrt = x)]
fn a_x_x_b(a: &DVector<f64>, x: &DVector<f64>, b: &DVector<f64>) -> f64 {
    (a.transpose() * x * x.transpose() * b)[(0, 0)]
}

/// The same function written with inner products: (aᵀx)(xᵀb).
#[gradient(wrt = x)]
fn a_x_x_b_dots(a: &DVector<f64>, x: &DVector<f64>, b: &DVector<f64>) -> f64 {
    a.dot(x) * x.dot(b)
}

#[test]
fn seed003_a_x_x_b() {
    let mut r = rng(22);
    let (a, x, b) = (vec(&mut r, 5), vec(&mut r, 5), vec(&mut r, 5));
    let want = (&a * b.transpose() + &b * a.transpose()) * &x;
    assert_close_scalar(a_x_x_b_dots(&a, &x, &b), a_x_x_b(&a, &x, &b), 1e-12);
    for g in [a_x_x_b_grad(&a, &x, &b), a_x_x_b_dots_grad(&a, &x, &b)] {
        assert_close(&g, &want, 1e-12);
        assert_close(&g, &fd(&x, |x| a_x_x_b(&a, x, &b)), 1e-6);
    }
    assert_eq!(A_X_X_B_GRAD_FORMULA, "∂f/∂x = (a bᵀ + b aᵀ) x");
    assert_eq!(A_X_X_B_DOTS_GRAD_FORMULA, "∂f/∂x = (a bᵀ + b aᵀ) x");
}

/// Seed 003: ∂tr(XᵀAX)/∂X = (A + Aᵀ)X.
#[gradient(wrt = x)]
fn trace_xt_a_x(x: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 {
    (x.transpose() * a * x).trace()
}

#[test]
fn seed003_trace_xt_a_x() {
    let mut r = rng(23);
    let (x, a) = (mat(&mut r, 4, 2), mat(&mut r, 4, 4));
    let g = trace_xt_a_x_grad(&x, &a);
    assert_close(&g, &((&a + a.transpose()) * &x), 1e-12);
    assert_close(&g, &fd(&x, |x| trace_xt_a_x(x, &a)), 1e-6);
    assert_eq!(TRACE_XT_A_X_GRAD_FORMULA, "∂f/∂x = (a + aᵀ) x");
}

/// Seed 003: d tr(AX) = tr(A dX), so in denominator layout ∂tr(AX)/∂X = Aᵀ.
#[gradient(wrt = x)]
fn trace_a_x(a: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    (a * x).trace()
}

#[test]
fn seed003_trace_a_x() {
    let mut r = rng(24);
    let (a, x) = (mat(&mut r, 2, 5), mat(&mut r, 5, 2));
    let g = trace_a_x_grad(&a, &x);
    assert_close(&g, &a.transpose(), 1e-12);
    assert_close(&g, &fd(&x, |x| trace_a_x(&a, x)), 1e-6);
    assert_eq!(TRACE_A_X_GRAD_FORMULA, "∂f/∂x = aᵀ");
}

// ---- seed 004: vec, Kronecker, Hadamard, determinant ---------------------------------------------

/// Seed 004: ∂(y, z)/∂y = z, and ∂(y, y)/∂y = 2y.
#[gradient(wrt = y)]
fn inner_product(y: &DVector<f64>, z: &DVector<f64>) -> f64 {
    y.dot(z)
}

#[gradient(wrt = y)]
fn inner_product_self(y: &DVector<f64>) -> f64 {
    y.dot(y)
}

#[test]
fn seed004_inner_products() {
    let mut r = rng(30);
    let (y, z) = (vec(&mut r, 6), vec(&mut r, 6));
    assert_close(&inner_product_grad(&y, &z), &z, 1e-14);
    assert_close(
        &inner_product_grad(&y, &z),
        &fd(&y, |y| inner_product(y, &z)),
        1e-6,
    );
    assert_close(&inner_product_self_grad(&y), &(2.0 * &y), 1e-14);
    assert_close(
        &inner_product_self_grad(&y),
        &fd(&y, inner_product_self),
        1e-6,
    );
    assert_eq!(INNER_PRODUCT_GRAD_FORMULA, "∂f/∂y = z");
    assert_eq!(INNER_PRODUCT_SELF_GRAD_FORMULA, "∂f/∂y = 2 y");
}

/// Seed 004: for A square and x = y the seed prints ∂xᵀAx/∂x = 2Ax. That holds only for a
/// symmetric A; by the seed's own definition the derivative is (A + Aᵀ)x, which is tested here
/// with a non-symmetric A (see SEED-NOTES).
#[gradient(wrt = x)]
fn quadratic_form_004(x: &DVector<f64>, a: &DMatrix<f64>) -> f64 {
    x.dot(&(a * x))
}

#[test]
fn seed004_quadratic_form_is_a_plus_at() {
    let mut r = rng(31);
    let (x, a) = (vec(&mut r, 5), mat(&mut r, 5, 5));
    let g = quadratic_form_004_grad(&x, &a);
    assert_close(&g, &((&a + a.transpose()) * &x), 1e-12);
    assert_close(&g, &fd(&x, |x| quadratic_form_004(x, &a)), 1e-6);
    assert!(
        (&g - 2.0 * &a * &x).norm() > 1e-3,
        "2Ax is not the derivative for non-symmetric A"
    );
    // For a symmetric matrix the seed's 2Ax is right.
    let s = &a + a.transpose();
    assert_close(&quadratic_form_004_grad(&x, &s), &(2.0 * &s * &x), 1e-12);
}

/// Seed 004: ∂tr(X)/∂X = I.
#[gradient(wrt = x)]
fn trace_x(x: &DMatrix<f64>) -> f64 {
    x.trace()
}

#[test]
fn seed004_trace() {
    let mut r = rng(32);
    let x = mat(&mut r, 4, 4);
    assert_close(&trace_x_grad(&x), &DMatrix::identity(4, 4), 0.0);
    assert_close(&trace_x_grad(&x), &fd(&x, trace_x), 1e-6);
    assert_eq!(TRACE_X_GRAD_FORMULA, "∂f/∂x = I");
}

/// Seed 004: ∂tr(XY)/∂X = Yᵀ and ∂tr(XY)/∂Y = Xᵀ (rectangular X and Y).
#[gradient(wrt = (x, y))]
fn trace_xy(x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    (x * y).trace()
}

#[test]
fn seed004_trace_xy() {
    let mut r = rng(33);
    let (x, y) = (mat(&mut r, 3, 6), mat(&mut r, 6, 3));
    let (gx, gy) = trace_xy_grad(&x, &y);
    assert_close(&gx, &y.transpose(), 1e-14);
    assert_close(&gy, &x.transpose(), 1e-14);
    assert_close(&gx, &fd(&x, |x| trace_xy(x, &y)), 1e-6);
    assert_close(&gy, &fd(&y, |y| trace_xy(&x, y)), 1e-6);
}

/// Seed 004 (and seed 000, rule 8): ∂|A|/∂A = (A*)ᵀ, the transposed adjugate, = det(A) A⁻ᵀ.
#[gradient(wrt = a)]
fn determinant(a: &DMatrix<f64>) -> f64 {
    a.determinant()
}

#[test]
fn seed004_determinant() {
    let mut r = rng(34);
    let a = well_conditioned(&mut r, 4);
    let g = determinant_grad(&a);
    let adjugate_t = a.determinant() * a.clone().try_inverse().unwrap().transpose();
    assert_close(&g, &adjugate_t, 1e-12);
    // The cofactor definition: ∂|A|/∂A_ij is the (i, j) cofactor.
    for i in 0..4 {
        for j in 0..4 {
            let minor = a.clone().remove_row(i).remove_column(j).determinant();
            let sign = if (i + j) % 2 == 0 { 1.0 } else { -1.0 };
            assert_close_scalar(g[(i, j)], sign * minor, 1e-12);
        }
    }
    assert_close(&g, &fd(&a, determinant), 1e-6);
    assert_eq!(DETERMINANT_GRAD_FORMULA, "∂f/∂a = det(a) a⁻ᵀ");
}

/// Seed 004: ∂X_ij/∂X = E_ij, the matrix with a single 1 at (i, j).
#[gradient(wrt = x)]
fn entry(x: &DMatrix<f64>) -> f64 {
    x[(2, 1)]
}

#[test]
fn seed004_entry() {
    let mut r = rng(35);
    let x = mat(&mut r, 3, 4);
    let mut e = DMatrix::zeros(3, 4);
    e[(2, 1)] = 1.0;
    assert_close(&entry_grad(&x), &e, 0.0);
    assert_close(&entry_grad(&x), &fd(&x, entry), 1e-6);
}
