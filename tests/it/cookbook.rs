//! The Matrix Cookbook suite (Petersen & Pedersen, 2012 edition, chapter 2, plus a few
//! standard losses): every identity is a `#[gradient]` function whose generated gradient is
//! checked against (a) the book's closed form, written by hand in nalgebra, and (b) central
//! finite differences, on seeded random inputs. Shapes are rectangular wherever the identity
//! allows, so that a missing or extra transpose cannot hide; square matrices are
//! non-symmetric unless the identity needs otherwise. `_value_and_grad` is checked to return
//! the function's value and the same gradient.
//!
//! "MC (n)" cites equation n of the cookbook; "MC §s" cites a section where the identity is
//! not printed as such (e.g. it follows from the chain rule or is not in the book).

#![allow(dead_code)]

use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

use crate::support::*;

/// Tolerance against the closed forms.
const CF: f64 = 1e-10;
/// Tolerance against central finite differences.
const FD: f64 = 1e-6;
/// Tolerance for `_value_and_grad` against the function and `_grad`.
const VG: f64 = 1e-12;

fn inv(m: &DMatrix<f64>) -> DMatrix<f64> {
    m.clone().try_inverse().expect("invertible")
}

fn pow(m: &DMatrix<f64>, k: usize) -> DMatrix<f64> {
    let mut p = DMatrix::identity(m.nrows(), m.ncols());
    for _ in 0..k {
        p = &p * m;
    }
    p
}

/// A matrix with entries in [1.5, 2.5]: safely away from zero for division.
fn away_from_zero(r: &mut rand::rngs::StdRng, rows: usize, cols: usize) -> DMatrix<f64> {
    mat(r, rows, cols).map(|v| 2.0 + 0.5 * v)
}

// ───────────────────────── traces, the variable once ─────────────────────────

/// tr(X)
#[gradient(wrt = x)]
pub fn tr_x(x: &DMatrix<f64>) -> f64 {
    x.trace()
}

/// MC (99): ∂tr(X)/∂X = I.
#[test]
fn mc099_tr_x() {
    let mut r = rng(99);
    let x = mat(&mut r, 4, 4);
    let g = tr_x_grad(&x);
    assert_close(&g, &DMatrix::identity(4, 4), CF);
    assert_close(&g, &fd(&x, tr_x), FD);
    let (v, g2) = tr_x_value_and_grad(&x);
    assert_close_scalar(v, tr_x(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_ax(a: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    (a * x).trace()
}

/// MC (100): ∂tr(XA)/∂X = Aᵀ; tr(AX) = tr(XA).
#[test]
fn mc100_tr_ax() {
    let mut r = rng(100);
    let (a, x) = (mat(&mut r, 3, 5), mat(&mut r, 5, 3));
    let g = tr_ax_grad(&a, &x);
    assert_close(&g, &a.transpose(), CF);
    assert_close(&g, &fd(&x, |x| tr_ax(&a, x)), FD);
    let (v, g2) = tr_ax_value_and_grad(&a, &x);
    assert_close_scalar(v, tr_ax(&a, &x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_xa(x: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 {
    (x * a).trace()
}

/// MC (100): ∂tr(XA)/∂X = Aᵀ.
#[test]
fn mc100_tr_xa() {
    let mut r = rng(1001);
    let (x, a) = (mat(&mut r, 4, 6), mat(&mut r, 6, 4));
    let g = tr_xa_grad(&x, &a);
    assert_close(&g, &a.transpose(), CF);
    assert_close(&g, &fd(&x, |x| tr_xa(x, &a)), FD);
    let (v, g2) = tr_xa_value_and_grad(&x, &a);
    assert_close_scalar(v, tr_xa(&x, &a), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_axb(a: &DMatrix<f64>, x: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a * x * b).trace()
}

/// MC (101): ∂tr(AXB)/∂X = AᵀBᵀ.
#[test]
fn mc101_tr_axb() {
    let mut r = rng(101);
    let (a, x, b) = (mat(&mut r, 3, 4), mat(&mut r, 4, 5), mat(&mut r, 5, 3));
    let g = tr_axb_grad(&a, &x, &b);
    assert_close(&g, &(a.transpose() * b.transpose()), CF);
    assert_close(&g, &fd(&x, |x| tr_axb(&a, x, &b)), FD);
    let (v, g2) = tr_axb_value_and_grad(&a, &x, &b);
    assert_close_scalar(v, tr_axb(&a, &x, &b), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_axtb(a: &DMatrix<f64>, x: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a * x.transpose() * b).trace()
}

/// MC (102): ∂tr(AXᵀB)/∂X = BA.
#[test]
fn mc102_tr_axtb() {
    let mut r = rng(102);
    let (a, x, b) = (mat(&mut r, 3, 5), mat(&mut r, 4, 5), mat(&mut r, 4, 3));
    let g = tr_axtb_grad(&a, &x, &b);
    assert_close(&g, &(&b * &a), CF);
    assert_close(&g, &fd(&x, |x| tr_axtb(&a, x, &b)), FD);
    let (v, g2) = tr_axtb_value_and_grad(&a, &x, &b);
    assert_close_scalar(v, tr_axtb(&a, &x, &b), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_xt_a(x: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 {
    (x.transpose() * a).trace()
}

/// MC (103): ∂tr(XᵀA)/∂X = A.
#[test]
fn mc103_tr_xt_a() {
    let mut r = rng(103);
    let (x, a) = (mat(&mut r, 4, 3), mat(&mut r, 4, 3));
    let g = tr_xt_a_grad(&x, &a);
    assert_close(&g, &a, CF);
    assert_close(&g, &fd(&x, |x| tr_xt_a(x, &a)), FD);
    let (v, g2) = tr_xt_a_value_and_grad(&x, &a);
    assert_close_scalar(v, tr_xt_a(&x, &a), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_xt_a_via_tr_mul(x: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 {
    x.tr_mul(a).trace()
}

/// MC (103), written with `tr_mul`: ∂tr(XᵀA)/∂X = A.
#[test]
fn mc103_tr_xt_a_via_tr_mul() {
    let mut r = rng(1031);
    let (x, a) = (mat(&mut r, 5, 2), mat(&mut r, 5, 2));
    let g = tr_xt_a_via_tr_mul_grad(&x, &a);
    assert_close(&g, &a, CF);
    assert_close(&g, &fd(&x, |x| tr_xt_a_via_tr_mul(x, &a)), FD);
    let (v, g2) = tr_xt_a_via_tr_mul_value_and_grad(&x, &a);
    assert_close_scalar(v, tr_xt_a_via_tr_mul(&x, &a), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_a_xt(a: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    (a * x.transpose()).trace()
}

/// MC (104): ∂tr(AXᵀ)/∂X = A.
#[test]
fn mc104_tr_a_xt() {
    let mut r = rng(104);
    let (a, x) = (mat(&mut r, 4, 3), mat(&mut r, 4, 3));
    let g = tr_a_xt_grad(&a, &x);
    assert_close(&g, &a, CF);
    assert_close(&g, &fd(&x, |x| tr_a_xt(&a, x)), FD);
    let (v, g2) = tr_a_xt_value_and_grad(&a, &x);
    assert_close_scalar(v, tr_a_xt(&a, &x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn frobenius_inner(x: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 {
    x.dot(a)
}

/// MC §2.5.1 / (103): ⟨X, A⟩_F = tr(XᵀA), so the gradient is A.
#[test]
fn mc103_frobenius_inner_dot() {
    let mut r = rng(1032);
    let (x, a) = (mat(&mut r, 3, 6), mat(&mut r, 3, 6));
    let g = frobenius_inner_grad(&x, &a);
    assert_close(&g, &a, CF);
    assert_close(&g, &fd(&x, |x| frobenius_inner(x, &a)), FD);
    let (v, g2) = frobenius_inner_value_and_grad(&x, &a);
    assert_close_scalar(v, frobenius_inner(&x, &a), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_a_kron_x(a: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    a.kronecker(x).trace()
}

/// MC (105): ∂tr(A⊗X)/∂X = tr(A) I.
#[test]
fn mc105_tr_a_kron_x() {
    let mut r = rng(105);
    let (a, x) = (mat(&mut r, 2, 2), mat(&mut r, 3, 3));
    let g = tr_a_kron_x_grad(&a, &x);
    assert_close(&g, &(DMatrix::identity(3, 3) * a.trace()), CF);
    assert_close(&g, &fd(&x, |x| tr_a_kron_x(&a, x)), FD);
    let (v, g2) = tr_a_kron_x_value_and_grad(&a, &x);
    assert_close_scalar(v, tr_a_kron_x(&a, &x), VG);
    assert_close(&g2, &g, VG);
}

// ───────────────────────── linear and bilinear forms ─────────────────────────

#[gradient(wrt = x)]
pub fn x_dot_a(x: &DVector<f64>, a: &DVector<f64>) -> f64 {
    x.dot(a)
}

/// MC (69): ∂xᵀa/∂x = a.
#[test]
fn mc069_x_dot_a() {
    let mut r = rng(69);
    let (x, a) = (vec(&mut r, 5), vec(&mut r, 5));
    let g = x_dot_a_grad(&x, &a);
    assert_close(&g, &a, CF);
    assert_close(&g, &fd(&x, |x| x_dot_a(x, &a)), FD);
    let (v, g2) = x_dot_a_value_and_grad(&x, &a);
    assert_close_scalar(v, x_dot_a(&x, &a), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn at_x_b(a: &DVector<f64>, x: &DMatrix<f64>, b: &DVector<f64>) -> f64 {
    (a.transpose() * x * b)[(0, 0)]
}

/// MC (70): ∂aᵀXb/∂X = abᵀ.
#[test]
fn mc070_at_x_b() {
    let mut r = rng(70);
    let (a, x, b) = (vec(&mut r, 4), mat(&mut r, 4, 6), vec(&mut r, 6));
    let g = at_x_b_grad(&a, &x, &b);
    assert_close(&g, &(&a * b.transpose()), CF);
    assert_close(&g, &fd(&x, |x| at_x_b(&a, x, &b)), FD);
    let (v, g2) = at_x_b_value_and_grad(&a, &x, &b);
    assert_close_scalar(v, at_x_b(&a, &x, &b), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn at_xt_b(a: &DVector<f64>, x: &DMatrix<f64>, b: &DVector<f64>) -> f64 {
    a.dot(&(x.transpose() * b))
}

/// MC (71): ∂aᵀXᵀb/∂X = baᵀ.
#[test]
fn mc071_at_xt_b() {
    let mut r = rng(71);
    let (a, x, b) = (vec(&mut r, 6), mat(&mut r, 4, 6), vec(&mut r, 4));
    let g = at_xt_b_grad(&a, &x, &b);
    assert_close(&g, &(&b * a.transpose()), CF);
    assert_close(&g, &fd(&x, |x| at_xt_b(&a, x, &b)), FD);
    let (v, g2) = at_xt_b_value_and_grad(&a, &x, &b);
    assert_close_scalar(v, at_xt_b(&a, &x, &b), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn at_x_a(a: &DVector<f64>, x: &DMatrix<f64>) -> f64 {
    (a.transpose() * x * a)[(0, 0)]
}

/// MC (72): ∂aᵀXa/∂X = aaᵀ.
#[test]
fn mc072_at_x_a() {
    let mut r = rng(72);
    let (a, x) = (vec(&mut r, 5), mat(&mut r, 5, 5));
    let g = at_x_a_grad(&a, &x);
    assert_close(&g, &(&a * a.transpose()), CF);
    assert_close(&g, &fd(&x, |x| at_x_a(&a, x)), FD);
    let (v, g2) = at_x_a_value_and_grad(&a, &x);
    assert_close_scalar(v, at_x_a(&a, &x), VG);
    assert_close(&g2, &g, VG);
}

// ───────────────────────── the variable twice ─────────────────────────

#[gradient(wrt = x)]
pub fn bt_xt_x_c(b: &DVector<f64>, x: &DMatrix<f64>, c: &DVector<f64>) -> f64 {
    (b.transpose() * x.transpose() * x * c)[(0, 0)]
}

/// MC (77): ∂bᵀXᵀXc/∂X = X(bcᵀ + cbᵀ).
#[test]
fn mc077_bt_xt_x_c() {
    let mut r = rng(77);
    let (b, x, c) = (vec(&mut r, 4), mat(&mut r, 6, 4), vec(&mut r, 4));
    let g = bt_xt_x_c_grad(&b, &x, &c);
    assert_close(&g, &(&x * (&b * c.transpose() + &c * b.transpose())), CF);
    assert_close(&g, &fd(&x, |x| bt_xt_x_c(&b, x, &c)), FD);
    let (v, g2) = bt_xt_x_c_value_and_grad(&b, &x, &c);
    assert_close_scalar(v, bt_xt_x_c(&b, &x, &c), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn xt_b_x(x: &DVector<f64>, b: &DMatrix<f64>) -> f64 {
    x.dot(&(b * x))
}

/// MC (81): ∂xᵀBx/∂x = (B + Bᵀ)x.
#[test]
fn mc081_xt_b_x() {
    let mut r = rng(81);
    let (x, b) = (vec(&mut r, 5), mat(&mut r, 5, 5));
    let g = xt_b_x_grad(&x, &b);
    assert_close(&g, &((&b + b.transpose()) * &x), CF);
    assert_close(&g, &fd(&x, |x| xt_b_x(x, &b)), FD);
    let (v, g2) = xt_b_x_value_and_grad(&x, &b);
    assert_close_scalar(v, xt_b_x(&x, &b), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn bt_xt_d_x_c(b: &DVector<f64>, x: &DMatrix<f64>, d: &DMatrix<f64>, c: &DVector<f64>) -> f64 {
    (b.transpose() * x.transpose() * d * x * c)[(0, 0)]
}

/// MC (82): ∂bᵀXᵀDXc/∂X = DᵀXbcᵀ + DXcbᵀ.
#[test]
fn mc082_bt_xt_d_x_c() {
    let mut r = rng(82);
    let (b, x, d, c) = (
        vec(&mut r, 3),
        mat(&mut r, 5, 3),
        mat(&mut r, 5, 5),
        vec(&mut r, 3),
    );
    let g = bt_xt_d_x_c_grad(&b, &x, &d, &c);
    let want = d.transpose() * &x * &b * c.transpose() + &d * &x * &c * b.transpose();
    assert_close(&g, &want, CF);
    assert_close(&g, &fd(&x, |x| bt_xt_d_x_c(&b, x, &d, &c)), FD);
    let (v, g2) = bt_xt_d_x_c_value_and_grad(&b, &x, &d, &c);
    assert_close_scalar(v, bt_xt_d_x_c(&b, &x, &d, &c), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn affine_quadratic(
    x: &DMatrix<f64>,
    b: &DVector<f64>,
    c: &DVector<f64>,
    d: &DMatrix<f64>,
) -> f64 {
    let r = x * b + c;
    r.dot(&(d * &r))
}

/// MC (83): ∂(Xb + c)ᵀD(Xb + c)/∂X = (D + Dᵀ)(Xb + c)bᵀ.
#[test]
fn mc083_affine_quadratic() {
    let mut r = rng(83);
    let (x, b, c, d) = (
        mat(&mut r, 5, 3),
        vec(&mut r, 3),
        vec(&mut r, 5),
        mat(&mut r, 5, 5),
    );
    let g = affine_quadratic_grad(&x, &b, &c, &d);
    let want = (&d + d.transpose()) * (&x * &b + &c) * b.transpose();
    assert_close(&g, &want, CF);
    assert_close(&g, &fd(&x, |x| affine_quadratic(x, &b, &c, &d)), FD);
    let (v, g2) = affine_quadratic_value_and_grad(&x, &b, &c, &d);
    assert_close_scalar(v, affine_quadratic(&x, &b, &c, &d), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_x_sq(x: &DMatrix<f64>) -> f64 {
    (x * x).trace()
}

/// MC (106) = (121) with k = 2: ∂tr(X²)/∂X = 2Xᵀ.
#[test]
fn mc106_tr_x_sq() {
    let mut r = rng(106);
    let x = mat(&mut r, 5, 5);
    let g = tr_x_sq_grad(&x);
    assert_close(&g, &(2.0 * x.transpose()), CF);
    assert_close(&g, &fd(&x, tr_x_sq), FD);
    let (v, g2) = tr_x_sq_value_and_grad(&x);
    assert_close_scalar(v, tr_x_sq(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_x_sq_b(x: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (x * x * b).trace()
}

/// MC (107): ∂tr(X²B)/∂X = (XB + BX)ᵀ.
#[test]
fn mc107_tr_x_sq_b() {
    let mut r = rng(107);
    let (x, b) = (mat(&mut r, 4, 4), mat(&mut r, 4, 4));
    let g = tr_x_sq_b_grad(&x, &b);
    assert_close(&g, &(&x * &b + &b * &x).transpose(), CF);
    assert_close(&g, &fd(&x, |x| tr_x_sq_b(x, &b)), FD);
    let (v, g2) = tr_x_sq_b_value_and_grad(&x, &b);
    assert_close_scalar(v, tr_x_sq_b(&x, &b), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_xt_b_x(x: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (x.transpose() * b * x).trace()
}

/// MC (108): ∂tr(XᵀBX)/∂X = BX + BᵀX.
#[test]
fn mc108_tr_xt_b_x() {
    let mut r = rng(108);
    let (x, b) = (mat(&mut r, 5, 3), mat(&mut r, 5, 5));
    let g = tr_xt_b_x_grad(&x, &b);
    assert_close(&g, &(&b * &x + b.transpose() * &x), CF);
    assert_close(&g, &fd(&x, |x| tr_xt_b_x(x, &b)), FD);
    let (v, g2) = tr_xt_b_x_value_and_grad(&x, &b);
    assert_close_scalar(v, tr_xt_b_x(&x, &b), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_x_b_xt(x: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (x * b * x.transpose()).trace()
}

/// MC (111): ∂tr(XBXᵀ)/∂X = XBᵀ + XB.
#[test]
fn mc111_tr_x_b_xt() {
    let mut r = rng(111);
    let (x, b) = (mat(&mut r, 4, 6), mat(&mut r, 6, 6));
    let g = tr_x_b_xt_grad(&x, &b);
    assert_close(&g, &(&x * b.transpose() + &x * &b), CF);
    assert_close(&g, &fd(&x, |x| tr_x_b_xt(x, &b)), FD);
    let (v, g2) = tr_x_b_xt_value_and_grad(&x, &b);
    assert_close_scalar(v, tr_x_b_xt(&x, &b), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_a_x_b_x(a: &DMatrix<f64>, x: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a * x * b * x).trace()
}

/// MC (114): ∂tr(AXBX)/∂X = AᵀXᵀBᵀ + BᵀXᵀAᵀ.
#[test]
fn mc114_tr_a_x_b_x() {
    let mut r = rng(114);
    let (a, x, b) = (mat(&mut r, 3, 4), mat(&mut r, 4, 3), mat(&mut r, 3, 4));
    let g = tr_a_x_b_x_grad(&a, &x, &b);
    let want = a.transpose() * x.transpose() * b.transpose()
        + b.transpose() * x.transpose() * a.transpose();
    assert_close(&g, &want, CF);
    assert_close(&g, &fd(&x, |x| tr_a_x_b_x(&a, x, &b)), FD);
    let (v, g2) = tr_a_x_b_x_value_and_grad(&a, &x, &b);
    assert_close_scalar(v, tr_a_x_b_x(&a, &x, &b), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_xt_x(x: &DMatrix<f64>) -> f64 {
    (x.transpose() * x).trace()
}

/// MC (115): ∂tr(XᵀX)/∂X = 2X.
#[test]
fn mc115_tr_xt_x() {
    let mut r = rng(115);
    let x = mat(&mut r, 6, 3);
    let g = tr_xt_x_grad(&x);
    assert_close(&g, &(2.0 * &x), CF);
    assert_close(&g, &fd(&x, tr_xt_x), FD);
    let (v, g2) = tr_xt_x_value_and_grad(&x);
    assert_close_scalar(v, tr_xt_x(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_bt_xt_c_x_b(b: &DMatrix<f64>, x: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    (b.transpose() * x.transpose() * c * x * b).trace()
}

/// MC (116): ∂tr(BᵀXᵀCXB)/∂X = CᵀXBBᵀ + CXBBᵀ.
#[test]
fn mc116_tr_bt_xt_c_x_b() {
    let mut r = rng(116);
    let (b, x, c) = (mat(&mut r, 4, 3), mat(&mut r, 5, 4), mat(&mut r, 5, 5));
    let g = tr_bt_xt_c_x_b_grad(&b, &x, &c);
    let bbt = &b * b.transpose();
    assert_close(&g, &(c.transpose() * &x * &bbt + &c * &x * &bbt), CF);
    assert_close(&g, &fd(&x, |x| tr_bt_xt_c_x_b(&b, x, &c)), FD);
    let (v, g2) = tr_bt_xt_c_x_b_value_and_grad(&b, &x, &c);
    assert_close_scalar(v, tr_bt_xt_c_x_b(&b, &x, &c), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_xt_b_x_c(x: &DMatrix<f64>, b: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    (x.transpose() * b * x * c).trace()
}

/// MC (117): ∂tr(XᵀBXC)/∂X = BXC + BᵀXCᵀ.
#[test]
fn mc117_tr_xt_b_x_c() {
    let mut r = rng(117);
    let (x, b, c) = (mat(&mut r, 5, 3), mat(&mut r, 5, 5), mat(&mut r, 3, 3));
    let g = tr_xt_b_x_c_grad(&x, &b, &c);
    assert_close(&g, &(&b * &x * &c + b.transpose() * &x * c.transpose()), CF);
    assert_close(&g, &fd(&x, |x| tr_xt_b_x_c(x, &b, &c)), FD);
    let (v, g2) = tr_xt_b_x_c_value_and_grad(&x, &b, &c);
    assert_close_scalar(v, tr_xt_b_x_c(&x, &b, &c), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_a_x_b_xt_c(
    a: &DMatrix<f64>,
    x: &DMatrix<f64>,
    b: &DMatrix<f64>,
    c: &DMatrix<f64>,
) -> f64 {
    (a * x * b * x.transpose() * c).trace()
}

/// MC (118): ∂tr(AXBXᵀC)/∂X = AᵀCᵀXBᵀ + CAXB.
#[test]
fn mc118_tr_a_x_b_xt_c() {
    let mut r = rng(118);
    let (a, x, b, c) = (
        mat(&mut r, 3, 4),
        mat(&mut r, 4, 6),
        mat(&mut r, 6, 6),
        mat(&mut r, 4, 3),
    );
    let g = tr_a_x_b_xt_c_grad(&a, &x, &b, &c);
    let want = a.transpose() * c.transpose() * &x * b.transpose() + &c * &a * &x * &b;
    assert_close(&g, &want, CF);
    assert_close(&g, &fd(&x, |x| tr_a_x_b_xt_c(&a, x, &b, &c)), FD);
    let (v, g2) = tr_a_x_b_xt_c_value_and_grad(&a, &x, &b, &c);
    assert_close_scalar(v, tr_a_x_b_xt_c(&a, &x, &b, &c), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_axb_plus_c_sq(
    a: &DMatrix<f64>,
    x: &DMatrix<f64>,
    b: &DMatrix<f64>,
    c: &DMatrix<f64>,
) -> f64 {
    let m = a * x * b + c;
    (&m * m.transpose()).trace()
}

/// MC (119): ∂tr[(AXB + C)(AXB + C)ᵀ]/∂X = 2Aᵀ(AXB + C)Bᵀ.
#[test]
fn mc119_tr_axb_plus_c_sq() {
    let mut r = rng(119);
    let (a, x, b, c) = (
        mat(&mut r, 3, 5),
        mat(&mut r, 5, 4),
        mat(&mut r, 4, 2),
        mat(&mut r, 3, 2),
    );
    let g = tr_axb_plus_c_sq_grad(&a, &x, &b, &c);
    assert_close(
        &g,
        &(2.0 * a.transpose() * (&a * &x * &b + &c) * b.transpose()),
        CF,
    );
    assert_close(&g, &fd(&x, |x| tr_axb_plus_c_sq(&a, x, &b, &c)), FD);
    let (v, g2) = tr_axb_plus_c_sq_value_and_grad(&a, &x, &b, &c);
    assert_close_scalar(v, tr_axb_plus_c_sq(&a, &x, &b, &c), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_x_kron_x(x: &DMatrix<f64>) -> f64 {
    x.kronecker(x).trace()
}

/// MC (120): ∂tr(X⊗X)/∂X = 2 tr(X) I.
#[test]
fn mc120_tr_x_kron_x() {
    let mut r = rng(120);
    let x = mat(&mut r, 3, 3);
    let g = tr_x_kron_x_grad(&x);
    assert_close(&g, &(DMatrix::identity(3, 3) * (2.0 * x.trace())), CF);
    assert_close(&g, &fd(&x, tr_x_kron_x), FD);
    let (v, g2) = tr_x_kron_x_value_and_grad(&x);
    assert_close_scalar(v, tr_x_kron_x(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn trace_squared(x: &DMatrix<f64>) -> f64 {
    x.trace().powi(2)
}

/// MC (120), the other side: ∂tr(X)²/∂X = 2 tr(X) I.
#[test]
fn mc120_trace_squared() {
    let mut r = rng(1201);
    let x = mat(&mut r, 4, 4);
    let g = trace_squared_grad(&x);
    assert_close(&g, &(DMatrix::identity(4, 4) * (2.0 * x.trace())), CF);
    assert_close(&g, &fd(&x, trace_squared), FD);
    let (v, g2) = trace_squared_value_and_grad(&x);
    assert_close_scalar(v, trace_squared(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn frobenius_sq(x: &DMatrix<f64>) -> f64 {
    x.norm_squared()
}

/// MC (132): ∂‖X‖_F²/∂X = 2X.
#[test]
fn mc132_frobenius_sq() {
    let mut r = rng(132);
    let x = mat(&mut r, 4, 6);
    let g = frobenius_sq_grad(&x);
    assert_close(&g, &(2.0 * &x), CF);
    assert_close(&g, &fd(&x, frobenius_sq), FD);
    let (v, g2) = frobenius_sq_value_and_grad(&x);
    assert_close_scalar(v, frobenius_sq(&x), VG);
    assert_close(&g2, &g, VG);
}

// ───────────────────────── higher order ─────────────────────────

#[gradient(wrt = x)]
pub fn tr_x_cubed(x: &DMatrix<f64>) -> f64 {
    (x * x * x).trace()
}

/// MC (121), k = 3: ∂tr(X³)/∂X = 3(X²)ᵀ.
#[test]
fn mc121_tr_x_cubed() {
    let mut r = rng(121);
    let x = mat(&mut r, 4, 4);
    let g = tr_x_cubed_grad(&x);
    assert_close(&g, &(3.0 * pow(&x, 2).transpose()), CF);
    assert_close(&g, &fd(&x, tr_x_cubed), FD);
    let (v, g2) = tr_x_cubed_value_and_grad(&x);
    assert_close_scalar(v, tr_x_cubed(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_x_fourth(x: &DMatrix<f64>) -> f64 {
    let x2 = x * x;
    (&x2 * &x2).trace()
}

/// MC (121), k = 4: ∂tr(X⁴)/∂X = 4(X³)ᵀ.
#[test]
fn mc121_tr_x_fourth() {
    let mut r = rng(1214);
    let x = mat(&mut r, 5, 5);
    let g = tr_x_fourth_grad(&x);
    assert_close(&g, &(4.0 * pow(&x, 3).transpose()), CF);
    assert_close(&g, &fd(&x, tr_x_fourth), FD);
    let (v, g2) = tr_x_fourth_value_and_grad(&x);
    assert_close_scalar(v, tr_x_fourth(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_a_x_cubed(a: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    (a * x * x * x).trace()
}

/// MC (122), k = 3: ∂tr(AX³)/∂X = Σ_{r=0}^{2} (XʳAX^{2−r})ᵀ.
#[test]
fn mc122_tr_a_x_cubed() {
    let mut r = rng(122);
    let (a, x) = (mat(&mut r, 4, 4), mat(&mut r, 4, 4));
    let g = tr_a_x_cubed_grad(&a, &x);
    let want = (0..3).fold(DMatrix::zeros(4, 4), |acc, k| {
        acc + (pow(&x, k) * &a * pow(&x, 2 - k)).transpose()
    });
    assert_close(&g, &want, CF);
    assert_close(&g, &fd(&x, |x| tr_a_x_cubed(&a, x)), FD);
    let (v, g2) = tr_a_x_cubed_value_and_grad(&a, &x);
    assert_close_scalar(v, tr_a_x_cubed(&a, &x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_xt_x_xt_x(x: &DMatrix<f64>) -> f64 {
    (x.transpose() * x * x.transpose() * x).trace()
}

/// MC (123) with B = C = I: ∂tr(XᵀXXᵀX)/∂X = 4XXᵀX.
#[test]
fn mc123_tr_xt_x_xt_x() {
    let mut r = rng(123);
    let x = mat(&mut r, 5, 3);
    let g = tr_xt_x_xt_x_grad(&x);
    assert_close(&g, &(4.0 * &x * x.transpose() * &x), CF);
    assert_close(&g, &fd(&x, tr_xt_x_xt_x), FD);
    let (v, g2) = tr_xt_x_xt_x_value_and_grad(&x);
    assert_close_scalar(v, tr_xt_x_xt_x(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn at_x_cubed_b(a: &DVector<f64>, x: &DMatrix<f64>, b: &DVector<f64>) -> f64 {
    a.dot(&(x * x * x * b))
}

/// MC (90), n = 3: ∂aᵀX³b/∂X = Σ_{r=0}^{2} (Xʳ)ᵀabᵀ(X^{2−r})ᵀ.
#[test]
fn mc090_at_x_cubed_b() {
    let mut r = rng(90);
    let (a, x, b) = (vec(&mut r, 4), mat(&mut r, 4, 4), vec(&mut r, 4));
    let g = at_x_cubed_b_grad(&a, &x, &b);
    let abt = &a * b.transpose();
    let want = (0..3).fold(DMatrix::zeros(4, 4), |acc, k| {
        acc + pow(&x, k).transpose() * &abt * pow(&x, 2 - k).transpose()
    });
    assert_close(&g, &want, CF);
    assert_close(&g, &fd(&x, |x| at_x_cubed_b(&a, x, &b)), FD);
    let (v, g2) = at_x_cubed_b_value_and_grad(&a, &x, &b);
    assert_close_scalar(v, at_x_cubed_b(&a, &x, &b), VG);
    assert_close(&g2, &g, VG);
}

// ───────────────────────── inverses ─────────────────────────

#[gradient(wrt = x)]
pub fn at_xinv_b(a: &DVector<f64>, x: &DMatrix<f64>, b: &DVector<f64>) -> f64 {
    a.dot(&(x.clone().try_inverse().unwrap() * b))
}

/// MC (61): ∂aᵀX⁻¹b/∂X = −X⁻ᵀabᵀX⁻ᵀ.
#[test]
fn mc061_at_xinv_b() {
    let mut r = rng(61);
    let (a, x, b) = (vec(&mut r, 4), well_conditioned(&mut r, 4), vec(&mut r, 4));
    let g = at_xinv_b_grad(&a, &x, &b);
    let xit = inv(&x).transpose();
    assert_close(&g, &(-&xit * &a * b.transpose() * &xit), CF);
    assert_close(&g, &fd(&x, |x| at_xinv_b(&a, x, &b)), FD);
    let (v, g2) = at_xinv_b_value_and_grad(&a, &x, &b);
    assert_close_scalar(v, at_xinv_b(&a, &x, &b), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn det_xinv(x: &DMatrix<f64>) -> f64 {
    x.clone().try_inverse().unwrap().determinant()
}

/// MC (62): ∂det(X⁻¹)/∂X = −det(X⁻¹)(X⁻¹)ᵀ.
#[test]
fn mc062_det_xinv() {
    let mut r = rng(62);
    let x = well_conditioned(&mut r, 4);
    let g = det_xinv_grad(&x);
    let xi = inv(&x);
    assert_close(&g, &(-xi.determinant() * xi.transpose()), CF);
    assert_close(&g, &fd(&x, det_xinv), FD);
    let (v, g2) = det_xinv_value_and_grad(&x);
    assert_close_scalar(v, det_xinv(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_a_xinv_b(a: &DMatrix<f64>, x: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a * x.clone().try_inverse().unwrap() * b).trace()
}

/// MC (63) = (124): ∂tr(AX⁻¹B)/∂X = −(X⁻¹BAX⁻¹)ᵀ.
#[test]
fn mc063_tr_a_xinv_b() {
    let mut r = rng(63);
    let (a, x, b) = (
        mat(&mut r, 3, 5),
        well_conditioned(&mut r, 5),
        mat(&mut r, 5, 3),
    );
    let g = tr_a_xinv_b_grad(&a, &x, &b);
    let xi = inv(&x);
    assert_close(&g, &(-(&xi * &b * &a * &xi).transpose()), CF);
    assert_close(&g, &fd(&x, |x| tr_a_xinv_b(&a, x, &b)), FD);
    let (v, g2) = tr_a_xinv_b_value_and_grad(&a, &x, &b);
    assert_close_scalar(v, tr_a_xinv_b(&a, &x, &b), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_xinv(x: &DMatrix<f64>) -> f64 {
    x.clone().try_inverse().unwrap().trace()
}

/// MC (64) with A = 0: ∂tr(X⁻¹)/∂X = −(X⁻¹X⁻¹)ᵀ.
#[test]
fn mc064_tr_xinv() {
    let mut r = rng(64);
    let x = well_conditioned(&mut r, 5);
    let g = tr_xinv_grad(&x);
    let xi = inv(&x);
    assert_close(&g, &(-(&xi * &xi).transpose()), CF);
    assert_close(&g, &fd(&x, tr_xinv), FD);
    let (v, g2) = tr_xinv_value_and_grad(&x);
    assert_close_scalar(v, tr_xinv(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn tr_x_plus_a_inv(x: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 {
    (x + a).try_inverse().unwrap().trace()
}

/// MC (64): ∂tr((X + A)⁻¹)/∂X = −((X + A)⁻¹(X + A)⁻¹)ᵀ.
#[test]
fn mc064_tr_x_plus_a_inv() {
    let mut r = rng(641);
    let (x, a) = (well_conditioned(&mut r, 4), mat(&mut r, 4, 4) * 0.3);
    let g = tr_x_plus_a_inv_grad(&x, &a);
    let s = inv(&(&x + &a));
    assert_close(&g, &(-(&s * &s).transpose()), CF);
    assert_close(&g, &fd(&x, |x| tr_x_plus_a_inv(x, &a)), FD);
    let (v, g2) = tr_x_plus_a_inv_value_and_grad(&x, &a);
    assert_close_scalar(v, tr_x_plus_a_inv(&x, &a), VG);
    assert_close(&g2, &g, VG);
}

// ───────────────────────── determinants ─────────────────────────

#[gradient(wrt = x)]
pub fn det_x(x: &DMatrix<f64>) -> f64 {
    x.determinant()
}

/// MC (49): ∂det(X)/∂X = det(X)(X⁻¹)ᵀ.
#[test]
fn mc049_det_x() {
    let mut r = rng(49);
    let x = well_conditioned(&mut r, 4);
    let g = det_x_grad(&x);
    assert_close(&g, &(x.determinant() * inv(&x).transpose()), CF);
    assert_close(&g, &fd(&x, det_x), FD);
    let (v, g2) = det_x_value_and_grad(&x);
    assert_close_scalar(v, det_x(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn det_axb(a: &DMatrix<f64>, x: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a * x * b).determinant()
}

/// MC (51): ∂det(AXB)/∂X = det(AXB)(X⁻¹)ᵀ.
#[test]
fn mc051_det_axb() {
    let mut r = rng(51);
    let (a, x, b) = (
        well_conditioned(&mut r, 4),
        well_conditioned(&mut r, 4),
        well_conditioned(&mut r, 4),
    );
    let g = det_axb_grad(&a, &x, &b);
    assert_close(
        &g,
        &((&a * &x * &b).determinant() * inv(&x).transpose()),
        CF,
    );
    assert_close(&g, &fd(&x, |x| det_axb(&a, x, &b)), FD);
    let (v, g2) = det_axb_value_and_grad(&a, &x, &b);
    assert_close_scalar(v, det_axb(&a, &x, &b), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn det_xt_a_x(x: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 {
    (x.transpose() * a * x).determinant()
}

/// MC (52): X square and invertible: ∂det(XᵀAX)/∂X = 2 det(XᵀAX)X⁻ᵀ.
#[test]
fn mc052_det_xt_a_x_square() {
    let mut r = rng(52);
    let (x, a) = (well_conditioned(&mut r, 3), well_conditioned(&mut r, 3));
    let g = det_xt_a_x_grad(&x, &a);
    let m = x.transpose() * &a * &x;
    assert_close(&g, &(2.0 * m.determinant() * inv(&x).transpose()), CF);
    assert_close(&g, &fd(&x, |x| det_xt_a_x(x, &a)), FD);
    let (v, g2) = det_xt_a_x_value_and_grad(&x, &a);
    assert_close_scalar(v, det_xt_a_x(&x, &a), VG);
    assert_close(&g2, &g, VG);
}

/// MC (53): X tall, A symmetric: ∂det(XᵀAX)/∂X = 2 det(XᵀAX) AX(XᵀAX)⁻¹.
#[test]
fn mc053_det_xt_a_x_tall_symmetric() {
    let mut r = rng(53);
    let (x, a) = (mat(&mut r, 5, 3), spd(&mut r, 5));
    let g = det_xt_a_x_grad(&x, &a);
    let m = x.transpose() * &a * &x;
    assert_close(&g, &(2.0 * m.determinant() * &a * &x * inv(&m)), CF);
    assert_close(&g, &fd(&x, |x| det_xt_a_x(x, &a)), FD);
    let (v, g2) = det_xt_a_x_value_and_grad(&x, &a);
    assert_close_scalar(v, det_xt_a_x(&x, &a), VG);
    assert_close(&g2, &g, VG);
}

/// MC (54): X tall, A not symmetric:
/// ∂det(XᵀAX)/∂X = det(XᵀAX)(AX(XᵀAX)⁻¹ + AᵀX(XᵀAᵀX)⁻¹).
#[test]
fn mc054_det_xt_a_x_tall_nonsymmetric() {
    let mut r = rng(54);
    let (x, a) = (mat(&mut r, 5, 3), well_conditioned(&mut r, 5));
    let g = det_xt_a_x_grad(&x, &a);
    let m = x.transpose() * &a * &x;
    let mt = x.transpose() * a.transpose() * &x;
    let want = m.determinant() * (&a * &x * inv(&m) + a.transpose() * &x * inv(&mt));
    assert_close(&g, &want, CF);
    assert_close(&g, &fd(&x, |x| det_xt_a_x(x, &a)), FD);
    let (v, g2) = det_xt_a_x_value_and_grad(&x, &a);
    assert_close_scalar(v, det_xt_a_x(&x, &a), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn ln_det_xt_x(x: &DMatrix<f64>) -> f64 {
    (x.transpose() * x).determinant().ln()
}

/// MC (55): ∂ ln det(XᵀX)/∂X = 2(X⁺)ᵀ.
#[test]
fn mc055_ln_det_xt_x() {
    let mut r = rng(55);
    let x = mat(&mut r, 6, 3);
    let g = ln_det_xt_x_grad(&x);
    let pinv = x.clone().pseudo_inverse(1e-14).unwrap();
    assert_close(&g, &(2.0 * pinv.transpose()), CF);
    assert_close(&g, &fd(&x, ln_det_xt_x), FD);
    let (v, g2) = ln_det_xt_x_value_and_grad(&x);
    assert_close_scalar(v, ln_det_xt_x(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn ln_abs_det(x: &DMatrix<f64>) -> f64 {
    x.determinant().abs().ln()
}

/// MC (57): ∂ ln|det X|/∂X = (X⁻¹)ᵀ, on a non-symmetric X; also with det X < 0.
#[test]
fn mc057_ln_abs_det() {
    let mut r = rng(57);
    let x = well_conditioned(&mut r, 5);
    let mut x_neg = x.clone();
    x_neg.row_mut(0).neg_mut();
    assert!(x_neg.determinant() < 0.0);
    for x in [x, x_neg] {
        let g = ln_abs_det_grad(&x);
        assert_close(&g, &inv(&x).transpose(), CF);
        assert_close(&g, &fd(&x, ln_abs_det), FD);
        let (v, g2) = ln_abs_det_value_and_grad(&x);
        assert_close_scalar(v, ln_abs_det(&x), VG);
        assert_close(&g2, &g, VG);
    }
}

#[gradient(wrt = x)]
pub fn ln_det_spd(x: &DMatrix<f64>) -> f64 {
    x.determinant().ln()
}

/// MC (43)/(57): ∂ ln det X/∂X = X⁻ᵀ, on an SPD X (det X > 0).
#[test]
fn mc057_ln_det_spd() {
    let mut r = rng(571);
    let x = spd(&mut r, 4);
    let g = ln_det_spd_grad(&x);
    assert_close(&g, &inv(&x).transpose(), CF);
    assert_close(&g, &fd(&x, ln_det_spd), FD);
    let (v, g2) = ln_det_spd_value_and_grad(&x);
    assert_close_scalar(v, ln_det_spd(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn det_x_cubed(x: &DMatrix<f64>) -> f64 {
    (x * x * x).determinant()
}

/// MC (58), k = 3: ∂det(X³)/∂X = 3 det(X³)X⁻ᵀ.
#[test]
fn mc058_det_x_cubed() {
    let mut r = rng(58);
    let x = well_conditioned(&mut r, 3);
    let g = det_x_cubed_grad(&x);
    assert_close(
        &g,
        &(3.0 * pow(&x, 3).determinant() * inv(&x).transpose()),
        CF,
    );
    assert_close(&g, &fd(&x, det_x_cubed), FD);
    let (v, g2) = det_x_cubed_value_and_grad(&x);
    assert_close_scalar(v, det_x_cubed(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = (x, lambda))]
pub fn ln_det_regularized_gram(x: &DMatrix<f64>, lambda: f64) -> f64 {
    (x.transpose() * x + DMatrix::identity(x.ncols(), x.ncols()) * lambda)
        .determinant()
        .ln()
}

/// MC (43) + chain rule: f = ln det(XᵀX + λI);
/// ∂f/∂X = X((XᵀX + λI)⁻¹ + (XᵀX + λI)⁻ᵀ) = 2X(XᵀX + λI)⁻¹, ∂f/∂λ = tr((XᵀX + λI)⁻¹).
#[test]
fn mc043_ln_det_regularized_gram() {
    let mut r = rng(43);
    let (x, lambda) = (mat(&mut r, 6, 4), 0.7);
    let (gx, gl) = ln_det_regularized_gram_grad(&x, lambda);
    let s = inv(&(x.transpose() * &x + DMatrix::identity(4, 4) * lambda));
    assert_close(&gx, &(2.0 * &x * &s), CF);
    assert_close_scalar(gl, s.trace(), CF);
    assert_close(&gx, &fd(&x, |x| ln_det_regularized_gram(x, lambda)), FD);
    assert_close_scalar(
        gl,
        fd_scalar(lambda, |l| ln_det_regularized_gram(&x, l)),
        FD,
    );
    let (v, (gx2, gl2)) = ln_det_regularized_gram_value_and_grad(&x, lambda);
    assert_close_scalar(v, ln_det_regularized_gram(&x, lambda), VG);
    assert_close(&gx2, &gx, VG);
    assert_close_scalar(gl2, gl, VG);
}

// ───────────────────────── vector norms ─────────────────────────

#[gradient(wrt = x)]
pub fn norm_x(x: &DVector<f64>) -> f64 {
    x.norm()
}

/// MC (129) with a = 0: ∂‖x‖₂/∂x = x/‖x‖₂.
#[test]
fn mc129_norm_x() {
    let mut r = rng(129);
    let x = vec(&mut r, 6);
    let g = norm_x_grad(&x);
    assert_close(&g, &(&x / x.norm()), CF);
    assert_close(&g, &fd(&x, norm_x), FD);
    let (v, g2) = norm_x_value_and_grad(&x);
    assert_close_scalar(v, norm_x(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn norm_x_minus_a(x: &DVector<f64>, a: &DVector<f64>) -> f64 {
    (x - a).norm()
}

/// MC (129): ∂‖x − a‖₂/∂x = (x − a)/‖x − a‖₂.
#[test]
fn mc129_norm_x_minus_a() {
    let mut r = rng(1291);
    let (x, a) = (vec(&mut r, 5), vec(&mut r, 5));
    let g = norm_x_minus_a_grad(&x, &a);
    assert_close(&g, &((&x - &a) / (&x - &a).norm()), CF);
    assert_close(&g, &fd(&x, |x| norm_x_minus_a(x, &a)), FD);
    let (v, g2) = norm_x_minus_a_value_and_grad(&x, &a);
    assert_close_scalar(v, norm_x_minus_a(&x, &a), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn norm_ax_minus_b(a: &DMatrix<f64>, x: &DVector<f64>, b: &DVector<f64>) -> f64 {
    (a * x - b).norm()
}

/// MC (129) + chain rule: ∂‖Ax − b‖₂/∂x = Aᵀ(Ax − b)/‖Ax − b‖₂.
#[test]
fn mc129_norm_ax_minus_b() {
    let mut r = rng(1292);
    let (a, x, b) = (mat(&mut r, 6, 4), vec(&mut r, 4), vec(&mut r, 6));
    let g = norm_ax_minus_b_grad(&a, &x, &b);
    let res = &a * &x - &b;
    assert_close(&g, &(a.transpose() * &res / res.norm()), CF);
    assert_close(&g, &fd(&x, |x| norm_ax_minus_b(&a, x, &b)), FD);
    let (v, g2) = norm_ax_minus_b_value_and_grad(&a, &x, &b);
    assert_close_scalar(v, norm_ax_minus_b(&a, &x, &b), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn norm_sq_x(x: &DVector<f64>) -> f64 {
    x.norm_squared()
}

/// MC (131): ∂‖x‖₂²/∂x = 2x.
#[test]
fn mc131_norm_sq_x() {
    let mut r = rng(131);
    let x = vec(&mut r, 7);
    let g = norm_sq_x_grad(&x);
    assert_close(&g, &(2.0 * &x), CF);
    assert_close(&g, &fd(&x, norm_sq_x), FD);
    let (v, g2) = norm_sq_x_value_and_grad(&x);
    assert_close_scalar(v, norm_sq_x(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn ln_quadratic(x: &DVector<f64>, a: &DMatrix<f64>) -> f64 {
    x.dot(&(a * x)).ln()
}

/// MC (81) + chain rule: ∂ ln(xᵀAx)/∂x = (A + Aᵀ)x / (xᵀAx), A positive definite but not
/// symmetric.
#[test]
fn mc081_ln_quadratic() {
    let mut r = rng(811);
    let (x, a) = (vec(&mut r, 5), well_conditioned(&mut r, 5));
    let g = ln_quadratic_grad(&x, &a);
    assert_close(&g, &((&a + a.transpose()) * &x / x.dot(&(&a * &x))), CF);
    assert_close(&g, &fd(&x, |x| ln_quadratic(x, &a)), FD);
    let (v, g2) = ln_quadratic_value_and_grad(&x, &a);
    assert_close_scalar(v, ln_quadratic(&x, &a), VG);
    assert_close(&g2, &g, VG);
}

// ───────────────────────── Hadamard products ─────────────────────────

#[gradient(wrt = x)]
pub fn tr_at_x_hadamard_b(a: &DMatrix<f64>, x: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a.transpose() * x.component_mul(b)).trace()
}

/// MC (38) (d(X∘B) = dX∘B) with (103): ∂tr(Aᵀ(X∘B))/∂X = A∘B.
#[test]
fn mc038_tr_at_x_hadamard_b() {
    let mut r = rng(38);
    let (a, x, b) = (mat(&mut r, 4, 6), mat(&mut r, 4, 6), mat(&mut r, 4, 6));
    let g = tr_at_x_hadamard_b_grad(&a, &x, &b);
    assert_close(&g, &a.component_mul(&b), CF);
    assert_close(&g, &fd(&x, |x| tr_at_x_hadamard_b(&a, x, &b)), FD);
    let (v, g2) = tr_at_x_hadamard_b_value_and_grad(&a, &x, &b);
    assert_close_scalar(v, tr_at_x_hadamard_b(&a, &x, &b), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn sum_a_x_hadamard_b(a: &DMatrix<f64>, x: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    a.component_mul(&x.component_mul(b)).sum()
}

/// MC (38), the same identity written as a sum: ∂Σ(A∘X∘B)/∂X = A∘B.
#[test]
fn mc038_sum_a_x_hadamard_b() {
    let mut r = rng(381);
    let (a, x, b) = (mat(&mut r, 5, 3), mat(&mut r, 5, 3), mat(&mut r, 5, 3));
    let g = sum_a_x_hadamard_b_grad(&a, &x, &b);
    assert_close(&g, &a.component_mul(&b), CF);
    assert_close(&g, &fd(&x, |x| sum_a_x_hadamard_b(&a, x, &b)), FD);
    let (v, g2) = sum_a_x_hadamard_b_value_and_grad(&a, &x, &b);
    assert_close_scalar(v, sum_a_x_hadamard_b(&a, &x, &b), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn frobenius_sq_hadamard(x: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 {
    x.component_mul(a).norm_squared()
}

/// MC (38) with (132): ∂‖X∘A‖_F²/∂X = 2 X∘A∘A.
#[test]
fn mc038_frobenius_sq_hadamard() {
    let mut r = rng(382);
    let (x, a) = (mat(&mut r, 3, 5), mat(&mut r, 3, 5));
    let g = frobenius_sq_hadamard_grad(&x, &a);
    assert_close(&g, &(2.0 * x.component_mul(&a).component_mul(&a)), CF);
    assert_close(&g, &fd(&x, |x| frobenius_sq_hadamard(x, &a)), FD);
    let (v, g2) = frobenius_sq_hadamard_value_and_grad(&x, &a);
    assert_close_scalar(v, frobenius_sq_hadamard(&x, &a), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn sum_x_x_a(x: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 {
    x.component_mul(x).component_mul(a).sum()
}

/// MC (38): ∂Σ(X∘X∘A)/∂X = 2 X∘A.
#[test]
fn mc038_sum_x_x_a() {
    let mut r = rng(383);
    let (x, a) = (mat(&mut r, 6, 2), mat(&mut r, 6, 2));
    let g = sum_x_x_a_grad(&x, &a);
    assert_close(&g, &(2.0 * x.component_mul(&a)), CF);
    assert_close(&g, &fd(&x, |x| sum_x_x_a(x, &a)), FD);
    let (v, g2) = sum_x_x_a_value_and_grad(&x, &a);
    assert_close_scalar(v, sum_x_x_a(&x, &a), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn sum_a_div_x(a: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    a.component_div(x).sum()
}

/// MC §2.1 (elementwise quotient rule): ∂Σ(A ⊘ X)/∂X = −A ⊘ (X∘X).
#[test]
fn mc_s2_1_sum_a_div_x() {
    let mut r = rng(384);
    let (a, x) = (mat(&mut r, 3, 4), away_from_zero(&mut r, 3, 4));
    let g = sum_a_div_x_grad(&a, &x);
    assert_close(&g, &(-a.component_div(&x.component_mul(&x))), CF);
    assert_close(&g, &fd(&x, |x| sum_a_div_x(&a, x)), FD);
    let (v, g2) = sum_a_div_x_value_and_grad(&a, &x);
    assert_close_scalar(v, sum_a_div_x(&a, &x), VG);
    assert_close(&g2, &g, VG);
}

// ───────────────────────── elementwise functions ─────────────────────────

#[gradient(wrt = (x, w))]
pub fn sum_exp_xw(x: &DMatrix<f64>, w: &DVector<f64>) -> f64 {
    (x * w).map(|v| v.exp()).sum()
}

/// Not in MC (elementwise chain rule, MC §2.4): f = Σ exp(Xw);
/// ∂f/∂w = Xᵀ exp(Xw), ∂f/∂X = exp(Xw) wᵀ.
#[test]
fn elementwise_sum_exp_xw() {
    let mut r = rng(200);
    let (x, w) = (mat(&mut r, 6, 3), vec(&mut r, 3));
    let (gx, gw) = sum_exp_xw_grad(&x, &w);
    let e = (&x * &w).map(|v| v.exp());
    assert_close(&gx, &(&e * w.transpose()), CF);
    assert_close(&gw, &(x.transpose() * &e), CF);
    assert_close(&gx, &fd(&x, |x| sum_exp_xw(x, &w)), FD);
    assert_close(&gw, &fd(&w, |w| sum_exp_xw(&x, w)), FD);
    let (v, (gx2, gw2)) = sum_exp_xw_value_and_grad(&x, &w);
    assert_close_scalar(v, sum_exp_xw(&x, &w), VG);
    assert_close(&gx2, &gx, VG);
    assert_close(&gw2, &gw, VG);
}

#[gradient(wrt = z)]
pub fn sum_softplus(z: &DVector<f64>) -> f64 {
    z.map(|v| v.exp().ln_1p()).sum()
}

/// Not in MC: ∂Σ ln(1 + exp zᵢ)/∂z = σ(z).
#[test]
fn elementwise_sum_softplus() {
    let mut r = rng(201);
    let z = vec(&mut r, 6) * 3.0;
    let g = sum_softplus_grad(&z);
    assert_close(&g, &z.map(|v| 1.0 / (1.0 + (-v).exp())), CF);
    assert_close(&g, &fd(&z, sum_softplus), FD);
    let (v, g2) = sum_softplus_value_and_grad(&z);
    assert_close_scalar(v, sum_softplus(&z), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn sum_tanh(x: &DMatrix<f64>) -> f64 {
    x.map(|v| v.tanh()).sum()
}

/// Not in MC: ∂Σ tanh(X)/∂X = 1 − tanh²(X).
#[test]
fn elementwise_sum_tanh() {
    let mut r = rng(202);
    let x = mat(&mut r, 4, 5) * 2.0;
    let g = sum_tanh_grad(&x);
    assert_close(&g, &x.map(|v| 1.0 - v.tanh().powi(2)), CF);
    assert_close(&g, &fd(&x, sum_tanh), FD);
    let (v, g2) = sum_tanh_value_and_grad(&x);
    assert_close_scalar(v, sum_tanh(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn sum_squares_map(x: &DVector<f64>) -> f64 {
    x.map(|v| v.powi(2)).sum()
}

/// MC (131), written elementwise: ∂Σ xᵢ²/∂x = 2x.
#[test]
fn mc131_sum_squares_map() {
    let mut r = rng(203);
    let x = vec(&mut r, 5);
    let g = sum_squares_map_grad(&x);
    assert_close(&g, &(2.0 * &x), CF);
    assert_close(&g, &fd(&x, sum_squares_map), FD);
    let (v, g2) = sum_squares_map_value_and_grad(&x);
    assert_close_scalar(v, sum_squares_map(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn sum_sin(x: &DMatrix<f64>) -> f64 {
    x.map(|v| v.sin()).sum()
}

/// Not in MC (cf. (128) for the matrix function): ∂Σ sin(X)/∂X = cos(X) elementwise.
#[test]
fn elementwise_sum_sin() {
    let mut r = rng(204);
    let x = mat(&mut r, 3, 4) * 3.0;
    let g = sum_sin_grad(&x);
    assert_close(&g, &x.map(|v| v.cos()), CF);
    assert_close(&g, &fd(&x, sum_sin), FD);
    let (v, g2) = sum_sin_value_and_grad(&x);
    assert_close_scalar(v, sum_sin(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn sqrt_sum_squares(x: &DVector<f64>) -> f64 {
    x.map(|v| v * v).sum().sqrt()
}

/// MC (129), written as √(Σ xᵢ²): the gradient is x/‖x‖₂.
#[test]
fn mc129_sqrt_sum_squares() {
    let mut r = rng(205);
    let x = vec(&mut r, 6);
    let g = sqrt_sum_squares_grad(&x);
    assert_close(&g, &(&x / x.norm()), CF);
    assert_close(&g, &fd(&x, sqrt_sum_squares), FD);
    let (v, g2) = sqrt_sum_squares_value_and_grad(&x);
    assert_close_scalar(v, sqrt_sum_squares(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn sum_abs_pow(x: &DVector<f64>, p: f64) -> f64 {
    x.map(|v| v.abs().powf(p)).sum()
}

/// Not in MC: ∂Σ|xᵢ|ᵖ/∂x = p|x|^{p−1} sign(x), p a captured constant.
#[test]
fn elementwise_sum_abs_pow() {
    let mut r = rng(206);
    let (x, p) = (vec(&mut r, 6), 3.5);
    let g = sum_abs_pow_grad(&x, p);
    assert_close(&g, &x.map(|v| p * v.abs().powf(p - 1.0) * v.signum()), CF);
    assert_close(&g, &fd(&x, |x| sum_abs_pow(x, p)), FD);
    let (v, g2) = sum_abs_pow_value_and_grad(&x, p);
    assert_close_scalar(v, sum_abs_pow(&x, p), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn sum_inv_sqrt(x: &DVector<f64>) -> f64 {
    x.map(|v| (1.0 + v * v).sqrt().recip()).sum()
}

/// Not in MC: ∂Σ(1 + xᵢ²)^{−1/2}/∂x = −x (1 + x²)^{−3/2}.
#[test]
fn elementwise_sum_inv_sqrt() {
    let mut r = rng(207);
    let x = vec(&mut r, 5) * 2.0;
    let g = sum_inv_sqrt_grad(&x);
    assert_close(&g, &x.map(|v| -v * (1.0 + v * v).powf(-1.5)), CF);
    assert_close(&g, &fd(&x, sum_inv_sqrt), FD);
    let (v, g2) = sum_inv_sqrt_value_and_grad(&x);
    assert_close_scalar(v, sum_inv_sqrt(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = x)]
pub fn log_barrier(x: &DMatrix<f64>) -> f64 {
    -x.map(|v| v.ln()).sum()
}

/// Not in MC: ∂(−Σ ln Xᵢⱼ)/∂X = −1 ⊘ X.
#[test]
fn elementwise_log_barrier() {
    let mut r = rng(208);
    let x = away_from_zero(&mut r, 2, 5);
    let g = log_barrier_grad(&x);
    assert_close(&g, &x.map(|v| -1.0 / v), CF);
    assert_close(&g, &fd(&x, log_barrier), FD);
    let (v, g2) = log_barrier_value_and_grad(&x);
    assert_close_scalar(v, log_barrier(&x), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = (x, s))]
pub fn sum_cos_scaled(x: &DVector<f64>, s: f64) -> f64 {
    x.map(|v| (s * v).cos()).sum()
}

/// Not in MC: f = Σ cos(s xᵢ); ∂f/∂x = −s sin(sx), ∂f/∂s = −Σ xᵢ sin(s xᵢ) (scalar variable
/// captured by the closure).
#[test]
fn elementwise_sum_cos_scaled() {
    let mut r = rng(209);
    let (x, s) = (vec(&mut r, 5), 1.7);
    let (gx, gs) = sum_cos_scaled_grad(&x, s);
    assert_close(&gx, &x.map(|v| -s * (s * v).sin()), CF);
    assert_close_scalar(gs, x.iter().map(|v| -v * (s * v).sin()).sum(), CF);
    assert_close(&gx, &fd(&x, |x| sum_cos_scaled(x, s)), FD);
    assert_close_scalar(gs, fd_scalar(s, |s| sum_cos_scaled(&x, s)), FD);
    let (v, (gx2, gs2)) = sum_cos_scaled_value_and_grad(&x, s);
    assert_close_scalar(v, sum_cos_scaled(&x, s), VG);
    assert_close(&gx2, &gx, VG);
    assert_close_scalar(gs2, gs, VG);
}

#[gradient(wrt = (x, c))]
pub fn shifted_frobenius_sq(x: &DMatrix<f64>, c: f64) -> f64 {
    x.add_scalar(c).norm_squared()
}

/// MC (132) + chain rule: f = ‖X + c11ᵀ‖_F²; ∂f/∂X = 2(X + c), ∂f/∂c = 2 Σ(X + c).
#[test]
fn mc132_shifted_frobenius_sq() {
    let mut r = rng(1321);
    let (x, c) = (mat(&mut r, 3, 5), -0.4);
    let (gx, gc) = shifted_frobenius_sq_grad(&x, c);
    assert_close(&gx, &(2.0 * x.add_scalar(c)), CF);
    assert_close_scalar(gc, 2.0 * x.add_scalar(c).sum(), CF);
    assert_close(&gx, &fd(&x, |x| shifted_frobenius_sq(x, c)), FD);
    assert_close_scalar(gc, fd_scalar(c, |c| shifted_frobenius_sq(&x, c)), FD);
    let (v, (gx2, gc2)) = shifted_frobenius_sq_value_and_grad(&x, c);
    assert_close_scalar(v, shifted_frobenius_sq(&x, c), VG);
    assert_close(&gx2, &gx, VG);
    assert_close_scalar(gc2, gc, VG);
}

// ───────────────────────── Kronecker products ─────────────────────────

/// Σ_ij A_ij C[block (i, j)] (blocks of X's shape p×q): the adjoint of A⊗X w.r.t. X.
fn kron_weighted_grad_x(a: &DMatrix<f64>, c: &DMatrix<f64>, p: usize, q: usize) -> DMatrix<f64> {
    DMatrix::from_fn(p, q, |k, l| {
        let mut s = 0.0;
        for i in 0..a.nrows() {
            for j in 0..a.ncols() {
                s += a[(i, j)] * c[(i * p + k, j * q + l)];
            }
        }
        s
    })
}

/// ⟨C[block (i, j)], X⟩: the adjoint of A⊗X w.r.t. A.
fn kron_weighted_grad_a(x: &DMatrix<f64>, c: &DMatrix<f64>, m: usize, n: usize) -> DMatrix<f64> {
    let (p, q) = x.shape();
    DMatrix::from_fn(m, n, |i, j| {
        c.view((i * p, j * q), (p, q)).component_mul(x).sum()
    })
}

#[gradient(wrt = (a, x))]
pub fn kron_weighted(a: &DMatrix<f64>, x: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    a.kronecker(x).component_mul(c).sum()
}

/// MC (39) (d(A⊗X) = dA⊗X + A⊗dX): f = Σ C∘(A⊗X) with A 2×3, X 4×2;
/// ∂f/∂X_kl = Σ_ij A_ij C_(i·4+k, j·2+l), ∂f/∂A_ij = ⟨C block (i, j), X⟩.
#[test]
fn mc039_kron_weighted() {
    let mut r = rng(39);
    let (a, x, c) = (mat(&mut r, 2, 3), mat(&mut r, 4, 2), mat(&mut r, 8, 6));
    let (ga, gx) = kron_weighted_grad(&a, &x, &c);
    assert_close(&ga, &kron_weighted_grad_a(&x, &c, 2, 3), CF);
    assert_close(&gx, &kron_weighted_grad_x(&a, &c, 4, 2), CF);
    assert_close(&ga, &fd(&a, |a| kron_weighted(a, &x, &c)), FD);
    assert_close(&gx, &fd(&x, |x| kron_weighted(&a, x, &c)), FD);
    let (v, (ga2, gx2)) = kron_weighted_value_and_grad(&a, &x, &c);
    assert_close_scalar(v, kron_weighted(&a, &x, &c), VG);
    assert_close(&ga2, &ga, VG);
    assert_close(&gx2, &gx, VG);
}

#[gradient(wrt = x)]
pub fn kron_left_weighted(x: &DMatrix<f64>, b: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    x.kronecker(b).component_mul(c).sum()
}

/// MC (39), the variable on the left: f = Σ C∘(X⊗B) with X 3×2, B 2×4;
/// ∂f/∂X_ij = ⟨C block (i, j), B⟩.
#[test]
fn mc039_kron_left_weighted() {
    let mut r = rng(391);
    let (x, b, c) = (mat(&mut r, 3, 2), mat(&mut r, 2, 4), mat(&mut r, 6, 8));
    let g = kron_left_weighted_grad(&x, &b, &c);
    assert_close(&g, &kron_weighted_grad_a(&b, &c, 3, 2), CF);
    assert_close(&g, &fd(&x, |x| kron_left_weighted(x, &b, &c)), FD);
    let (v, g2) = kron_left_weighted_value_and_grad(&x, &b, &c);
    assert_close_scalar(v, kron_left_weighted(&x, &b, &c), VG);
    assert_close(&g2, &g, VG);
}

// ───────────────────────── standard losses ─────────────────────────

#[gradient(wrt = (w, lambda))]
pub fn ridge(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>, lambda: f64) -> f64 {
    (x * w - y).norm_squared() + lambda * w.norm_squared()
}

/// MC (84)/(131) (not in MC as such): f = ‖Xw − y‖² + λ‖w‖²;
/// ∂f/∂w = 2Xᵀ(Xw − y) + 2λw, ∂f/∂λ = ‖w‖².
#[test]
fn loss_ridge() {
    let mut r = rng(300);
    let (x, w, y, lambda) = (mat(&mut r, 8, 3), vec(&mut r, 3), vec(&mut r, 8), 0.3);
    let (gw, gl) = ridge_grad(&x, &w, &y, lambda);
    assert_close(
        &gw,
        &(2.0 * x.transpose() * (&x * &w - &y) + 2.0 * lambda * &w),
        CF,
    );
    assert_close_scalar(gl, w.norm_squared(), CF);
    assert_close(&gw, &fd(&w, |w| ridge(&x, w, &y, lambda)), FD);
    assert_close_scalar(gl, fd_scalar(lambda, |l| ridge(&x, &w, &y, l)), FD);
    let (v, (gw2, gl2)) = ridge_value_and_grad(&x, &w, &y, lambda);
    assert_close_scalar(v, ridge(&x, &w, &y, lambda), VG);
    assert_close(&gw2, &gw, VG);
    assert_close_scalar(gl2, gl, VG);
}

#[gradient(wrt = w)]
pub fn mean_squared_error(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (x * w - y).norm_squared() / (x.nrows() as f64)
}

/// MC (84) with W = I/n: ∂‖Xw − y‖²/n ∂w = 2Xᵀ(Xw − y)/n.
#[test]
fn loss_mean_squared_error() {
    let mut r = rng(301);
    let (x, w, y) = (mat(&mut r, 9, 4), vec(&mut r, 4), vec(&mut r, 9));
    let g = mean_squared_error_grad(&x, &w, &y);
    assert_close(&g, &(2.0 * x.transpose() * (&x * &w - &y) / 9.0), CF);
    assert_close(&g, &fd(&w, |w| mean_squared_error(&x, w, &y)), FD);
    let (v, g2) = mean_squared_error_value_and_grad(&x, &w, &y);
    assert_close_scalar(v, mean_squared_error(&x, &w, &y), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = (w, wt))]
pub fn weighted_least_squares(
    x: &DMatrix<f64>,
    w: &DVector<f64>,
    y: &DVector<f64>,
    wt: &DMatrix<f64>,
) -> f64 {
    let r = x * w - y;
    (r.transpose() * wt * &r)[(0, 0)]
}

/// MC (84) (W symmetric): f = (Xw − y)ᵀW(Xw − y); ∂f/∂w = 2XᵀW(Xw − y), and, W unconstrained,
/// ∂f/∂W = (Xw − y)(Xw − y)ᵀ (MC (72)).
#[test]
fn mc084_weighted_least_squares() {
    let mut r = rng(84);
    let (x, w, y) = (mat(&mut r, 7, 3), vec(&mut r, 3), vec(&mut r, 7));
    let wt = DMatrix::from_diagonal(&vec(&mut r, 7).map(|v| 1.0 + v.abs()));
    let (gw, gwt) = weighted_least_squares_grad(&x, &w, &y, &wt);
    let res = &x * &w - &y;
    assert_close(&gw, &(2.0 * x.transpose() * &wt * &res), CF);
    assert_close(&gwt, &(&res * res.transpose()), CF);
    assert_close(&gw, &fd(&w, |w| weighted_least_squares(&x, w, &y, &wt)), FD);
    assert_close(
        &gwt,
        &fd(&wt, |wt| weighted_least_squares(&x, &w, &y, wt)),
        FD,
    );
    let (v, (gw2, gwt2)) = weighted_least_squares_value_and_grad(&x, &w, &y, &wt);
    assert_close_scalar(v, weighted_least_squares(&x, &w, &y, &wt), VG);
    assert_close(&gw2, &gw, VG);
    assert_close(&gwt2, &gwt, VG);
}

#[gradient(wrt = (a, s))]
pub fn weighted_residual(
    x: &DVector<f64>,
    a: &DMatrix<f64>,
    s: &DVector<f64>,
    wt: &DMatrix<f64>,
) -> f64 {
    let r = x - a * s;
    r.dot(&(wt * &r))
}

/// MC (84) and (88), W symmetric: f = (x − As)ᵀW(x − As);
/// ∂f/∂s = −2AᵀW(x − As), ∂f/∂A = −2W(x − As)sᵀ.
#[test]
fn mc088_weighted_residual() {
    let mut r = rng(88);
    let (x, a, s, wt) = (
        vec(&mut r, 6),
        mat(&mut r, 6, 4),
        vec(&mut r, 4),
        spd(&mut r, 6),
    );
    let (ga, gs) = weighted_residual_grad(&x, &a, &s, &wt);
    let res = &x - &a * &s;
    assert_close(&gs, &(-2.0 * a.transpose() * &wt * &res), CF);
    assert_close(&ga, &(-2.0 * &wt * &res * s.transpose()), CF);
    assert_close(&gs, &fd(&s, |s| weighted_residual(&x, &a, s, &wt)), FD);
    assert_close(&ga, &fd(&a, |a| weighted_residual(&x, a, &s, &wt)), FD);
    let (v, (ga2, gs2)) = weighted_residual_value_and_grad(&x, &a, &s, &wt);
    assert_close_scalar(v, weighted_residual(&x, &a, &s, &wt), VG);
    assert_close(&ga2, &ga, VG);
    assert_close(&gs2, &gs, VG);
}

#[gradient(wrt = w)]
pub fn logistic_loss(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let z = x * w;
    z.map(|v| v.exp().ln_1p()).sum() - y.dot(&z)
}

/// Not in MC: f = Σ[ln(1 + exp zᵢ) − yᵢzᵢ], z = Xw; ∂f/∂w = Xᵀ(σ(Xw) − y).
#[test]
fn loss_logistic() {
    let mut r = rng(302);
    let (x, w) = (mat(&mut r, 8, 3), vec(&mut r, 3) * 2.0);
    let y = vec(&mut r, 8).map(|v| if v > 0.0 { 1.0 } else { 0.0 });
    let g = logistic_loss_grad(&x, &w, &y);
    let sigma = (&x * &w).map(|v| 1.0 / (1.0 + (-v).exp()));
    assert_close(&g, &(x.transpose() * (sigma - &y)), CF);
    assert_close(&g, &fd(&w, |w| logistic_loss(&x, w, &y)), FD);
    let (v, g2) = logistic_loss_value_and_grad(&x, &w, &y);
    assert_close_scalar(v, logistic_loss(&x, &w, &y), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = w)]
pub fn softmax_cross_entropy(w: &DMatrix<f64>, x: &DVector<f64>, k: usize) -> f64 {
    let z = w * x;
    -z[k] + z.map(|v| v.exp()).sum().ln()
}

/// Not in MC: f = −zₖ + ln Σ exp z, z = Wx with W 4×6; ∂f/∂W = (softmax(z) − eₖ)xᵀ.
#[test]
fn loss_softmax_cross_entropy() {
    let mut r = rng(303);
    let (w, x, k) = (mat(&mut r, 4, 6), vec(&mut r, 6), 2);
    let g = softmax_cross_entropy_grad(&w, &x, k);
    let e = (&w * &x).map(|v| v.exp());
    let mut p = &e / e.sum();
    p[k] -= 1.0;
    assert_close(&g, &(p * x.transpose()), CF);
    assert_close(&g, &fd(&w, |w| softmax_cross_entropy(w, &x, k)), FD);
    let (v, g2) = softmax_cross_entropy_value_and_grad(&w, &x, k);
    assert_close_scalar(v, softmax_cross_entropy(&w, &x, k), VG);
    assert_close(&g2, &g, VG);
}

#[gradient(wrt = (sigma, mu))]
pub fn gaussian_nll_cov(x: &DVector<f64>, mu: &DVector<f64>, sigma: &DMatrix<f64>) -> f64 {
    let r = x - mu;
    0.5 * sigma.determinant().ln() + 0.5 * r.dot(&(sigma.clone().try_inverse().unwrap() * &r))
}

/// MC §8.1.1 (derivatives of the Gaussian log-density; from MC (57) and (61)):
/// f = ½ ln det Σ + ½(x − μ)ᵀΣ⁻¹(x − μ).
/// Exact gradient of the code w.r.t. an unconstrained Σ: ½Σ⁻ᵀ − ½Σ⁻ᵀ(x − μ)(x − μ)ᵀΣ⁻ᵀ, which
/// for symmetric Σ is the book's ½(Σ⁻¹ − Σ⁻¹(x − μ)(x − μ)ᵀΣ⁻¹); ∂f/∂μ = −Σ⁻¹(x − μ).
#[test]
fn mc_s8_1_gaussian_nll_cov() {
    let mut r = rng(800);
    let (x, mu, sigma) = (vec(&mut r, 4), vec(&mut r, 4), spd(&mut r, 4));
    let (gs, gm) = gaussian_nll_cov_grad(&x, &mu, &sigma);
    let si = inv(&sigma);
    let res = &x - &mu;
    let sit = si.transpose();
    assert_close(
        &gs,
        &(0.5 * &sit - 0.5 * &sit * &res * res.transpose() * &sit),
        CF,
    );
    assert_close(&gs, &(0.5 * (&si - &si * &res * res.transpose() * &si)), CF);
    assert_close(&gm, &(-&si * &res), CF);
    assert_close(&gs, &fd(&sigma, |s| gaussian_nll_cov(&x, &mu, s)), FD);
    assert_close(&gm, &fd(&mu, |m| gaussian_nll_cov(&x, m, &sigma)), FD);
    let (v, (gs2, gm2)) = gaussian_nll_cov_value_and_grad(&x, &mu, &sigma);
    assert_close_scalar(v, gaussian_nll_cov(&x, &mu, &sigma), VG);
    assert_close(&gs2, &gs, VG);
    assert_close(&gm2, &gm, VG);
}

#[gradient(wrt = (lambda, mu))]
pub fn gaussian_nll_precision(x: &DVector<f64>, mu: &DVector<f64>, lambda: &DMatrix<f64>) -> f64 {
    let r = x - mu;
    -0.5 * lambda.determinant().ln() + 0.5 * r.dot(&(lambda * &r))
}

/// MC §8.1.1, precision form (from MC (57) and (72)): f = −½ ln det Λ + ½(x − μ)ᵀΛ(x − μ);
/// ∂f/∂Λ = −½Λ⁻ᵀ + ½(x − μ)(x − μ)ᵀ, ∂f/∂μ = −½(Λ + Λᵀ)(x − μ).
#[test]
fn mc_s8_1_gaussian_nll_precision() {
    let mut r = rng(801);
    let (x, mu, lambda) = (vec(&mut r, 5), vec(&mut r, 5), spd(&mut r, 5));
    let (gl, gm) = gaussian_nll_precision_grad(&x, &mu, &lambda);
    let res = &x - &mu;
    assert_close(
        &gl,
        &(-0.5 * inv(&lambda).transpose() + 0.5 * &res * res.transpose()),
        CF,
    );
    assert_close(&gm, &(-0.5 * (&lambda + lambda.transpose()) * &res), CF);
    assert_close(
        &gl,
        &fd(&lambda, |l| gaussian_nll_precision(&x, &mu, l)),
        FD,
    );
    assert_close(
        &gm,
        &fd(&mu, |m| gaussian_nll_precision(&x, m, &lambda)),
        FD,
    );
    let (v, (gl2, gm2)) = gaussian_nll_precision_value_and_grad(&x, &mu, &lambda);
    assert_close_scalar(v, gaussian_nll_precision(&x, &mu, &lambda), VG);
    assert_close(&gl2, &gl, VG);
    assert_close(&gm2, &gm, VG);
}

#[gradient(wrt = (u, v))]
pub fn matrix_factorization(y: &DMatrix<f64>, u: &DMatrix<f64>, v: &DMatrix<f64>) -> f64 {
    (y - u * v.transpose()).norm_squared()
}

/// MC (119)/(132): f = ‖Y − UVᵀ‖_F² with Y 7×5, rank 3;
/// ∂f/∂U = −2(Y − UVᵀ)V, ∂f/∂V = −2(Y − UVᵀ)ᵀU.
#[test]
fn loss_matrix_factorization() {
    let mut r = rng(304);
    let (y, u, v) = (mat(&mut r, 7, 5), mat(&mut r, 7, 3), mat(&mut r, 5, 3));
    let (gu, gv) = matrix_factorization_grad(&y, &u, &v);
    let res = &y - &u * v.transpose();
    assert_close(&gu, &(-2.0 * &res * &v), CF);
    assert_close(&gv, &(-2.0 * res.transpose() * &u), CF);
    assert_close(&gu, &fd(&u, |u| matrix_factorization(&y, u, &v)), FD);
    assert_close(&gv, &fd(&v, |v| matrix_factorization(&y, &u, v)), FD);
    let (val, (gu2, gv2)) = matrix_factorization_value_and_grad(&y, &u, &v);
    assert_close_scalar(val, matrix_factorization(&y, &u, &v), VG);
    assert_close(&gu2, &gu, VG);
    assert_close(&gv2, &gv, VG);
}

#[gradient(wrt = x)]
pub fn ax_norm_sq_owned(a: DMatrix<f64>, x: DVector<f64>) -> f64 {
    (a * x).norm_squared()
}

/// MC (131) + chain rule, with owned parameters: ∂‖Ax‖²/∂x = 2AᵀAx.
#[test]
fn mc131_ax_norm_sq_owned() {
    let mut r = rng(1311);
    let (a, x) = (mat(&mut r, 6, 4), vec(&mut r, 4));
    let g = ax_norm_sq_owned_grad(a.clone(), x.clone());
    assert_close(&g, &(2.0 * a.transpose() * &a * &x), CF);
    assert_close(&g, &fd(&x, |x| ax_norm_sq_owned(a.clone(), x.clone())), FD);
    let (v, g2) = ax_norm_sq_owned_value_and_grad(a.clone(), x.clone());
    assert_close_scalar(v, ax_norm_sq_owned(a.clone(), x.clone()), VG);
    assert_close(&g2, &g, VG);
}

// ───────────────────────── the formulas ─────────────────────────

/// Every identity exports its derived formula.
#[test]
fn formulas_are_exported() {
    let formulas = [
        TR_X_GRAD_FORMULA,
        TR_AX_GRAD_FORMULA,
        TR_XA_GRAD_FORMULA,
        TR_AXB_GRAD_FORMULA,
        TR_AXTB_GRAD_FORMULA,
        TR_XT_A_GRAD_FORMULA,
        TR_XT_A_VIA_TR_MUL_GRAD_FORMULA,
        TR_A_XT_GRAD_FORMULA,
        FROBENIUS_INNER_GRAD_FORMULA,
        TR_A_KRON_X_GRAD_FORMULA,
        X_DOT_A_GRAD_FORMULA,
        AT_X_B_GRAD_FORMULA,
        AT_XT_B_GRAD_FORMULA,
        AT_X_A_GRAD_FORMULA,
        BT_XT_X_C_GRAD_FORMULA,
        XT_B_X_GRAD_FORMULA,
        BT_XT_D_X_C_GRAD_FORMULA,
        AFFINE_QUADRATIC_GRAD_FORMULA,
        TR_X_SQ_GRAD_FORMULA,
        TR_X_SQ_B_GRAD_FORMULA,
        TR_XT_B_X_GRAD_FORMULA,
        TR_X_B_XT_GRAD_FORMULA,
        TR_A_X_B_X_GRAD_FORMULA,
        TR_XT_X_GRAD_FORMULA,
        TR_BT_XT_C_X_B_GRAD_FORMULA,
        TR_XT_B_X_C_GRAD_FORMULA,
        TR_A_X_B_XT_C_GRAD_FORMULA,
        TR_AXB_PLUS_C_SQ_GRAD_FORMULA,
        TR_X_KRON_X_GRAD_FORMULA,
        TRACE_SQUARED_GRAD_FORMULA,
        FROBENIUS_SQ_GRAD_FORMULA,
        TR_X_CUBED_GRAD_FORMULA,
        TR_X_FOURTH_GRAD_FORMULA,
        TR_A_X_CUBED_GRAD_FORMULA,
        TR_XT_X_XT_X_GRAD_FORMULA,
        AT_X_CUBED_B_GRAD_FORMULA,
        AT_XINV_B_GRAD_FORMULA,
        DET_XINV_GRAD_FORMULA,
        TR_A_XINV_B_GRAD_FORMULA,
        TR_XINV_GRAD_FORMULA,
        TR_X_PLUS_A_INV_GRAD_FORMULA,
        DET_X_GRAD_FORMULA,
        DET_AXB_GRAD_FORMULA,
        DET_XT_A_X_GRAD_FORMULA,
        LN_DET_XT_X_GRAD_FORMULA,
        LN_ABS_DET_GRAD_FORMULA,
        LN_DET_SPD_GRAD_FORMULA,
        DET_X_CUBED_GRAD_FORMULA,
        LN_DET_REGULARIZED_GRAM_GRAD_FORMULA,
        NORM_X_GRAD_FORMULA,
        NORM_X_MINUS_A_GRAD_FORMULA,
        NORM_AX_MINUS_B_GRAD_FORMULA,
        NORM_SQ_X_GRAD_FORMULA,
        LN_QUADRATIC_GRAD_FORMULA,
        TR_AT_X_HADAMARD_B_GRAD_FORMULA,
        SUM_A_X_HADAMARD_B_GRAD_FORMULA,
        FROBENIUS_SQ_HADAMARD_GRAD_FORMULA,
        SUM_X_X_A_GRAD_FORMULA,
        SUM_A_DIV_X_GRAD_FORMULA,
        SUM_EXP_XW_GRAD_FORMULA,
        SUM_SOFTPLUS_GRAD_FORMULA,
        SUM_TANH_GRAD_FORMULA,
        SUM_SQUARES_MAP_GRAD_FORMULA,
        SUM_SIN_GRAD_FORMULA,
        SQRT_SUM_SQUARES_GRAD_FORMULA,
        SUM_ABS_POW_GRAD_FORMULA,
        SUM_INV_SQRT_GRAD_FORMULA,
        LOG_BARRIER_GRAD_FORMULA,
        SUM_COS_SCALED_GRAD_FORMULA,
        SHIFTED_FROBENIUS_SQ_GRAD_FORMULA,
        KRON_WEIGHTED_GRAD_FORMULA,
        KRON_LEFT_WEIGHTED_GRAD_FORMULA,
        RIDGE_GRAD_FORMULA,
        MEAN_SQUARED_ERROR_GRAD_FORMULA,
        WEIGHTED_LEAST_SQUARES_GRAD_FORMULA,
        WEIGHTED_RESIDUAL_GRAD_FORMULA,
        LOGISTIC_LOSS_GRAD_FORMULA,
        SOFTMAX_CROSS_ENTROPY_GRAD_FORMULA,
        GAUSSIAN_NLL_COV_GRAD_FORMULA,
        GAUSSIAN_NLL_PRECISION_GRAD_FORMULA,
        MATRIX_FACTORIZATION_GRAD_FORMULA,
        AX_NORM_SQ_OWNED_GRAD_FORMULA,
    ];
    if std::env::var_os("MATGRAD_PRINT_FORMULAS").is_some() {
        for f in formulas {
            println!("{f}");
        }
    }
    for f in formulas {
        assert!(f.contains("∂f/∂"), "formula {f:?}");
    }
}

/// The formulas are for people: no generated identifiers or Rust syntax in them.
#[test]
fn formulas_name_no_internals() {
    for f in [
        SOFTMAX_CROSS_ENTROPY_GRAD_FORMULA,
        MEAN_SQUARED_ERROR_GRAD_FORMULA,
    ] {
        assert!(!f.contains("__mg") && !f.contains("(*"), "formula {f:?}");
    }
}

/// An inverted product, and an exponent that is a sum, need parentheses in the formula.
#[test]
fn formulas_parenthesize_inverted_products() {
    for (f, part) in [
        (LN_DET_XT_X_GRAD_FORMULA, "(xᵀ x)⁻"),
        (DET_AXB_GRAD_FORMULA, "(a x b)⁻ᵀ"),
        (DET_XT_A_X_GRAD_FORMULA, "(xᵀ a x)⁻"),
        (DET_X_CUBED_GRAD_FORMULA, "(x³)⁻ᵀ"),
        (SUM_ABS_POW_GRAD_FORMULA, "(p − 1)"),
    ] {
        assert!(f.contains(part), "formula {f:?} should contain {part:?}");
    }
}

// ───────────────────────── formulas as a textbook prints them (issue 18) ─────────────────────────

/// Softmax regression with a bias, averaged over the rows as its author writes it, `n as f64`.
#[gradient(wrt = (w, b))]
pub fn softmax_with_bias(
    x: &DMatrix<f64>,
    w: &DMatrix<f64>,
    b: &DVector<f64>,
    y: &DMatrix<f64>,
) -> f64 {
    let n = x.nrows();
    let ones = DVector::from_element(n, 1.0);
    let z = x * w + ones * b.transpose();
    let s = z.map(|v| v.exp()).column_sum();
    (s.map(|v| v.ln()).sum() - z.component_mul(y).sum()) / (n as f64)
}

/// The README's example: a hidden tanh layer.
#[gradient(wrt = (w1, w2))]
pub fn two_layer(w1: &DMatrix<f64>, w2: &DMatrix<f64>, x: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let h = (w1 * x).map(|v| v.tanh());
    (w2 * h - y).norm_squared()
}

/// The cast is the quantity n, 1/n divides the whole, the row sums' reciprocals scale rows, and the
/// logits the body named are named once; one minus sign.
#[test]
fn textbook_softmax_with_bias() {
    assert_eq!(
        SOFTMAX_WITH_BIAS_GRAD_FORMULA,
        "∂f/∂w = xᵀ(diag(1 ⊘ (exp(z) 1)) exp(z) − y) / n\n  where z = x w + 1 bᵀ\n\
         ∂f/∂b = (diag(1 ⊘ (exp(z) 1)) exp(z) − y)ᵀ 1 / n\n  where z = x w + 1 bᵀ"
    );
    let mut r = rng(1801);
    let (x, w, b) = (mat(&mut r, 6, 4), mat(&mut r, 4, 3), vec(&mut r, 3));
    let y = DMatrix::from_fn(6, 3, |i, j| if i % 3 == j { 1.0 } else { 0.0 });
    let (gw, gb) = softmax_with_bias_grad(&x, &w, &b, &y);
    assert_close(&gw, &fd(&w, |w| softmax_with_bias(&x, w, &b, &y)), FD);
    assert_close(&gb, &fd(&b, |b| softmax_with_bias(&x, &w, b, &y)), FD);
}

/// The layer reads tanh(w1 x), named h as the body names it, transposed as a whole; the README's
/// derivation is the one the macro writes.
#[test]
fn textbook_two_layer_network() {
    assert_eq!(
        TWO_LAYER_GRAD_FORMULA,
        "∂f/∂w1 = 2 ((w2ᵀ(w2 h − y)) ⊙ (1 − h^⊙2)) xᵀ\n  where h = tanh(w1 x)\n\
         ∂f/∂w2 = 2 (w2 h − y) hᵀ\n  where h = tanh(w1 x)"
    );
    let readme = include_str!("../../README.md");
    let first = TWO_LAYER_DERIVATION.split("\n\n").next().unwrap();
    assert!(readme.contains(first), "the README shows\n{first}");
    let mut r = rng(1802);
    let (w1, w2, x, y) = (
        mat(&mut r, 4, 3),
        mat(&mut r, 2, 4),
        vec(&mut r, 3),
        vec(&mut r, 2),
    );
    let (g1, g2) = two_layer_grad(&w1, &w2, &x, &y);
    assert_close(&g1, &fd(&w1, |w1| two_layer(w1, &w2, &x, &y)), FD);
    assert_close(&g2, &fd(&w2, |w2| two_layer(&w1, w2, &x, &y)), FD);
}
