//! Issue 7: Jacobians of vector- and matrix-valued functions, in the three layouts of the
//! seeds, against closed forms and finite differences.

use matgrad::jacobian;
use matgrad::nalgebra::{DMatrix, DVector, Matrix2x3, Vector2, Vector3};

use crate::support::*;

fn as_mat(v: &DVector<f64>) -> DMatrix<f64> {
    DMatrix::from_column_slice(v.len(), 1, v.as_slice())
}

/// The example: exponential-decay residuals y − p₀ exp(−p₁ t).
#[jacobian(wrt = p)]
pub fn residuals(p: &DVector<f64>, t: &DVector<f64>, y: &DVector<f64>) -> DVector<f64> {
    (t * -p[1]).map(|v| v.exp()) * p[0] - y
}

#[test]
fn exponential_decay_residuals() {
    let t = DVector::from_fn(7, |i, _| i as f64 * 0.3);
    let y = DVector::from_fn(7, |i, _| (i as f64).sin());
    let p = DVector::from_vec(vec![1.5, 0.7]);
    let j = residuals_jacobian(&p, &t, &y);
    assert_eq!(j.shape(), (7, 2));
    let e = t.map(|ti| (-p[1] * ti).exp());
    for i in 0..7 {
        assert_close_scalar(j[(i, 0)], e[i], 1e-14);
        assert_close_scalar(j[(i, 1)], -p[0] * t[i] * e[i], 1e-14);
    }
    let fd = fd_jacobian(&as_mat(&p), &|p| {
        as_mat(&residuals(
            &DVector::from_column_slice(p.as_slice()),
            &t,
            &y,
        ))
    });
    assert_close(&j, &fd, 1e-6);
    let (r, j2) = residuals_value_and_jacobian(&p, &t, &y);
    assert_eq!(r, residuals(&p, &t, &y));
    assert_eq!(j2, j);
    println!("{RESIDUALS_JACOBIAN_FORMULA}");
}

/// Seed 003, denominator layout: ∂(Ax)/∂x = Aᵀ (A rectangular).
#[jacobian(wrt = x, layout = denominator)]
fn a_times_x(a: &DMatrix<f64>, x: &DVector<f64>) -> DVector<f64> {
    a * x
}

/// The same in numerator layout: A.
#[jacobian(wrt = x)]
fn a_times_x_numerator(a: &DMatrix<f64>, x: &DVector<f64>) -> DVector<f64> {
    a * x
}

#[test]
fn seed003_a_x_in_both_layouts() {
    let mut r = rng(70);
    let (a, x) = (mat(&mut r, 5, 3), vec(&mut r, 3));
    assert_close(&a_times_x_jacobian(&a, &x), &a.transpose(), 0.0);
    assert_close(&a_times_x_numerator_jacobian(&a, &x), &a, 0.0);
    assert_eq!(
        A_TIMES_X_NUMERATOR_JACOBIAN_FORMULA.lines().nth(1),
        Some("∂vec(f)/∂vec(x)ᵀ = a")
    );
    let _ = (a_times_x(&a, &x), a_times_x_numerator(&a, &x));
}

/// Seed 003: ∂(a u)/∂x = a ∂u/∂x + (∂a/∂x) uᵀ in denominator layout, with a = xᵀx and u = Bx.
#[jacobian(wrt = x, layout = denominator)]
fn scalar_times_vector(x: &DVector<f64>, b: &DMatrix<f64>) -> DVector<f64> {
    (b * x) * x.norm_squared()
}

#[test]
fn seed003_product_rule() {
    let mut r = rng(71);
    let (x, b) = (vec(&mut r, 3), mat(&mut r, 4, 3));
    let a = x.norm_squared();
    let u = &b * &x;
    let want = a * b.transpose() + 2.0 * &x * u.transpose();
    assert_close(&scalar_times_vector_jacobian(&x, &b), &want, 1e-12);
    let _ = scalar_times_vector(&x, &b);
}

/// Seed 004: ∂X/∂X = E (block layout); ∂Xᵀ/∂X and ∂vec(X)/∂X by the definition (SEED-NOTES).
#[jacobian(wrt = x, layout = blocks)]
fn identity_map(x: &DMatrix<f64>) -> DMatrix<f64> {
    x.clone()
}

#[jacobian(wrt = x, layout = blocks)]
fn transpose_map(x: &DMatrix<f64>) -> DMatrix<f64> {
    x.transpose()
}

/// E_ij: the m×n matrix with a single 1 at (i, j).
fn unit(m: usize, n: usize, i: usize, j: usize) -> DMatrix<f64> {
    let mut e = DMatrix::zeros(m, n);
    e[(i, j)] = 1.0;
    e
}

/// Seed 004's block matrix from a function of the entries: block (i, j) is ∂Y_ij/∂X.
fn blocks(
    p: usize,
    q: usize,
    m: usize,
    n: usize,
    block: impl Fn(usize, usize) -> DMatrix<f64>,
) -> DMatrix<f64> {
    let mut out = DMatrix::zeros(p * m, q * n);
    for i in 0..p {
        for j in 0..q {
            out.view_mut((i * m, j * n), (m, n)).copy_from(&block(i, j));
        }
    }
    out
}

#[test]
fn seed004_identity_and_transpose_blocks() {
    let mut r = rng(72);
    let x = mat(&mut r, 2, 3);
    // ∂X/∂X = E: block (i, j) is E_ij.
    assert_close(
        &identity_map_jacobian(&x),
        &blocks(2, 3, 2, 3, |i, j| unit(2, 3, i, j)),
        0.0,
    );
    // ∂Xᵀ/∂X: block (i, j) is E_ji (the seed's Eᵀ does not even have this size; SEED-NOTES).
    assert_close(
        &transpose_map_jacobian(&x),
        &blocks(3, 2, 2, 3, |i, j| unit(2, 3, j, i)),
        0.0,
    );
    let _ = (identity_map(&x), transpose_map(&x));
}

/// Seed 004: ∂(AB)/∂B = vec(I)ᵀ ⊗ vec(Aᵀ) with I of AB's size, and ∂(A∘B)/∂B = (A⊗J)∘E.
#[jacobian(wrt = b, layout = blocks)]
fn product_in_b(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    a * b
}

#[jacobian(wrt = b, layout = blocks)]
fn hadamard_in_b(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    a.component_mul(b)
}

#[test]
fn seed004_product_and_hadamard_blocks() {
    let mut r = rng(73);
    let (a, b) = (mat(&mut r, 2, 3), mat(&mut r, 3, 4));
    let vec_i = DMatrix::from_column_slice(1, 4, DMatrix::<f64>::identity(2, 2).as_slice());
    let vec_at = DMatrix::from_column_slice(6, 1, a.transpose().as_slice());
    let _ = vec_i;
    // vec(I₂)ᵀ ⊗ vec(Aᵀ) as printed has the wrong size for rectangular shapes; by the definition,
    // block (i, j) of ∂(AB)/∂B is ∂(AB)_ij/∂B = A_i· ⊗ e_j: row i of A in column j.
    let want = blocks(2, 4, 3, 4, |i, j| {
        let mut blk = DMatrix::zeros(3, 4);
        for k in 0..3 {
            blk[(k, j)] = a[(i, k)];
        }
        blk
    });
    assert_close(&product_in_b_jacobian(&a, &b), &want, 0.0);
    let _ = vec_at;
    let b2 = mat(&mut r, 2, 3);
    let had = hadamard_in_b_jacobian(&a, &b2);
    let ones = DMatrix::from_element(2, 3, 1.0);
    let e = blocks(2, 3, 2, 3, |i, j| unit(2, 3, i, j));
    assert_close(&had, &a.kronecker(&ones).component_mul(&e), 0.0);
    let _ = (product_in_b(&a, &b), hadamard_in_b(&a, &b2));
}

/// Seed 004: ∂(A⊗B)/∂B = A⊗E.
#[jacobian(wrt = b, layout = blocks)]
fn kron_in_b(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    a.kronecker(b)
}

#[test]
fn seed004_kronecker_blocks() {
    let mut r = rng(74);
    let (a, b) = (mat(&mut r, 2, 3), mat(&mut r, 2, 2));
    let e = blocks(2, 2, 2, 2, |i, j| unit(2, 2, i, j));
    assert_close(&kron_in_b_jacobian(&a, &b), &a.kronecker(&e), 0.0);
    let _ = kron_in_b(&a, &b);
}

/// ∂ tanh(W x)/∂xᵀ = diag(1 − tanh²(W x)) W, with several variables and static shapes.
#[jacobian(wrt = (w, x))]
fn layer(w: &Matrix2x3<f64>, x: &Vector3<f64>) -> Vector2<f64> {
    (w * x).map(|v| v.tanh())
}

#[test]
fn tanh_layer_static() {
    let mut r = rng(75);
    let w = Matrix2x3::from_fn(|_, _| r.random_unit());
    let x = Vector3::from_fn(|_, _| r.random_unit());
    let (jw, jx) = layer_jacobian(&w, &x);
    let d = (w * x).map(|v| 1.0 - v.tanh().powi(2));
    let want_x = matgrad::nalgebra::Matrix2::from_diagonal(&d) * w;
    assert_close(&jx, &want_x, 1e-14);
    // ∂vec(f)/∂vec(W)ᵀ = xᵀ ⊗ diag(d)
    let want_w = x
        .transpose()
        .kronecker(&matgrad::nalgebra::Matrix2::from_diagonal(&d));
    assert_close(&jw, &want_w, 1e-14);
    println!("{LAYER_JACOBIAN_FORMULA}");
    let _ = layer(&w, &x);
}

/// A matrix function of a matrix, rectangular: F = A X B, ∂vec(F)/∂vec(X)ᵀ = Bᵀ ⊗ A.
#[jacobian(wrt = x)]
fn a_x_b(a: &DMatrix<f64>, x: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    a * x * b
}

#[test]
fn kronecker_jacobian_of_a_x_b() {
    let mut r = rng(76);
    let (a, x, b) = (mat(&mut r, 2, 3), mat(&mut r, 3, 4), mat(&mut r, 4, 5));
    assert_close(
        &a_x_b_jacobian(&a, &x, &b),
        &b.transpose().kronecker(&a),
        1e-12,
    );
    assert_eq!(
        A_X_B_JACOBIAN_FORMULA.lines().nth(1),
        Some("∂vec(f)/∂vec(x)ᵀ = bᵀ ⊗ a")
    );
    let _ = a_x_b(&a, &x, &b);
}

/// Residuals written entry by entry (Rosenbrock), with constant indices into the variable.
#[jacobian(wrt = p)]
fn rosenbrock(p: &Vector2<f64>) -> Vector2<f64> {
    Vector2::new(10.0 * (p[1] - p[0] * p[0]), 1.0 - p[0])
}

/// The same with a dynamic vector built from a `vec!`.
#[jacobian(wrt = p)]
fn rosenbrock_dynamic(p: &DVector<f64>) -> DVector<f64> {
    DVector::from_vec(vec![10.0 * (p[1] - p[0] * p[0]), 1.0 - p[0], p[0] * p[1]])
}

#[test]
fn residuals_written_entry_by_entry() {
    let p = Vector2::new(-1.2, 1.0);
    let j = rosenbrock_jacobian(&p);
    let want = matgrad::nalgebra::Matrix2::new(-20.0 * p[0], 10.0, -1.0, 0.0);
    assert_close(&j, &want, 1e-14);
    let pd = DVector::from_vec(vec![-1.2, 1.0]);
    let jd = rosenbrock_dynamic_jacobian(&pd);
    assert_eq!(jd.shape(), (3, 2));
    let fd = fd_jacobian(&as_mat(&pd), &|q| {
        as_mat(&rosenbrock_dynamic(&DVector::from_column_slice(
            q.as_slice(),
        )))
    });
    assert_close(&jd, &fd, 1e-6);
    println!("{ROSENBROCK_JACOBIAN_FORMULA}");
    let _ = rosenbrock(&p);
}

// An entrywise function of the variable itself: its whole Jacobian is diag(f′(x)), n×n. For a
// vector result that is the answer; for a scalar result it would be wasted work, and the
// generated code takes one reverse sweep instead (chosen at run time, m < n).
#[jacobian(wrt = x)]
fn sines(x: &DVector<f64>) -> DVector<f64> {
    x.map(|v| v.sin())
}

#[jacobian(wrt = x)]
fn sum_of_sines(x: &DVector<f64>) -> f64 {
    x.map(|v| v.sin()).sum()
}

#[test]
fn entrywise_functions_of_the_variable_in_both_strategies() {
    let x = DVector::from_fn(7, |i, _| 0.3 * i as f64 - 1.0);
    let (value, j) = sines_value_and_jacobian(&x);
    assert_eq!(value, sines(&x));
    assert_eq!(j, DMatrix::from_diagonal(&x.map(|v| v.cos())));
    let (value, j) = sum_of_sines_value_and_jacobian(&x);
    assert_eq!(value, sum_of_sines(&x));
    assert_eq!(j.shape(), (1, 7));
    for k in 0..7 {
        assert!((j[(0, k)] - x[k].cos()).abs() < 1e-15);
    }
    assert_eq!(sum_of_sines_jacobian(&x), j);
}

// Logits of softmax regression with a bias, as a matrix of the two variables: whole Jacobians
// through a product, a broadcast of the bias and a sum over columns.
#[jacobian(wrt = (w, b))]
fn logits_with_bias(x: &DMatrix<f64>, w: &DMatrix<f64>, b: &DVector<f64>) -> DMatrix<f64> {
    let ones = DVector::from_element(x.nrows(), 1.0);
    let z = x * w + ones * b.transpose();
    z.map(|v| v.tanh()) + z.column_sum() * b.transpose()
}

#[test]
fn jacobians_through_broadcasts_and_sums() {
    let mut r = rng(931);
    let (x, w, b) = (mat(&mut r, 5, 4), mat(&mut r, 4, 3), vec(&mut r, 3));
    let (jw, jb) = logits_with_bias_jacobian(&x, &w, &b);
    assert_eq!((jw.shape(), jb.shape()), ((15, 12), (15, 3)));
    let fw = fd_jacobian(&w, &|w| logits_with_bias(&x, w, &b));
    let bm = DMatrix::from_column_slice(3, 1, b.as_slice());
    let fb = fd_jacobian(&bm, &|bm| {
        logits_with_bias(&x, &w, &DVector::from_column_slice(bm.as_slice()))
    });
    assert_close(&jw, &fw, 1e-6);
    assert_close(&jb, &fb, 1e-6);
}

// Whole Jacobians in f32, for a generic scalar type, and with static shapes throughout.
#[jacobian(wrt = x)]
fn f32_layer(w: &DMatrix<f32>, x: &DMatrix<f32>) -> DMatrix<f32> {
    (w * x).map(|v| v.tanh()).transpose()
}

#[jacobian(wrt = x)]
fn generic_layer<T: matgrad::nalgebra::RealField + Copy>(
    w: &DMatrix<T>,
    x: &DVector<T>,
) -> DVector<T> {
    (w * x).map(|v| v.sin())
}

#[jacobian(wrt = x)]
fn static_product(
    a: &matgrad::nalgebra::Matrix2x3<f64>,
    x: &matgrad::nalgebra::Matrix3x2<f64>,
) -> matgrad::nalgebra::Matrix2<f64> {
    a * x
}

#[test]
fn whole_jacobians_in_f32_generic_and_static_forms() {
    let mut r = rng(932);
    let (w, x) = (mat(&mut r, 3, 4), mat(&mut r, 4, 2));
    let j = f32_layer_jacobian(&w.map(|v| v as f32), &x.map(|v| v as f32)).map(f64::from);
    let want = fd_jacobian(&x, &|x| (&w * x).map(|v| v.tanh()).transpose());
    assert_close(&j, &want, 1e-5);
    assert_eq!(
        f32_layer(&w.map(|v| v as f32), &x.map(|v| v as f32)).shape(),
        (2, 3)
    );

    let xv = vec(&mut r, 4);
    let j = generic_layer_jacobian(&w, &xv);
    let d = (&w * &xv).map(|v| v.cos());
    assert_close(&j, &DMatrix::from_fn(3, 4, |i, k| d[i] * w[(i, k)]), 1e-14);
    assert_eq!(generic_layer(&w, &xv).len(), 3);

    let a = matgrad::nalgebra::Matrix2x3::from_fn(|i, j| (i + 2 * j) as f64 - 1.5);
    let xs = matgrad::nalgebra::Matrix3x2::from_fn(|i, j| (i * j) as f64 + 0.5);
    let j = static_product_jacobian(&a, &xs);
    // ∂vec(A X)/∂vec(X)ᵀ = I ⊗ A, a static 4×6 matrix
    let want = matgrad::nalgebra::Matrix2::<f64>::identity().kronecker(&a);
    assert_eq!(j, want);
    assert_eq!(static_product(&a, &xs), a * xs);
}

// Views of a matrix variable: the rows of the Jacobian picked block by block.
#[jacobian(wrt = x)]
fn blocks_of(x: &DMatrix<f64>) -> DMatrix<f64> {
    x.view((1, 0), (2, 3)).map(|v| v.sin()) + x.columns(1, 3).rows(0, 2)
}

#[test]
fn jacobians_of_views_of_a_matrix() {
    let mut r = rng(933);
    let x = mat(&mut r, 4, 5);
    let j = blocks_of_jacobian(&x);
    assert_eq!(j.shape(), (6, 20));
    assert_close(&j, &fd_jacobian(&x, &|x| blocks_of(x)), 1e-6);
}
