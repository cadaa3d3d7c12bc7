//! Issue 4: static matrices, `f32`, functions generic over the scalar, and shape checks.

use matgrad::gradient;
use matgrad::nalgebra::{
    self, DMatrix, DVector, Matrix2x3, Matrix3, Matrix3x2, RealField, RowDVector, SMatrix, Vector2,
    Vector3,
};

use crate::support::*;

// ---- static types ----------------------------------------------------------------------------

#[gradient(wrt = w)]
fn least_squares_static(x: &Matrix2x3<f64>, w: &Vector3<f64>, y: &Vector2<f64>) -> f64 {
    (x * w - y).norm_squared()
}

#[test]
fn static_least_squares_returns_the_static_type() {
    let mut r = rng(40);
    let x = Matrix2x3::from_fn(|_, _| r.random_unit());
    let w = Vector3::from_fn(|_, _| r.random_unit());
    let y = Vector2::from_fn(|_, _| r.random_unit());
    let g: Vector3<f64> = least_squares_static_grad(&x, &w, &y);
    assert_close(&g, &(2.0 * x.transpose() * (x * w - y)), 1e-12);
    assert_close(&g, &fd(&w, |w| least_squares_static(&x, w, &y)), 1e-6);
    let (v, _) = least_squares_static_value_and_grad(&x, &w, &y);
    assert_close_scalar(v, least_squares_static(&x, &w, &y), 1e-14);
}

/// Seed 000's tr(WᵀAW) with static shapes, W 4×2.
#[gradient(wrt = w)]
fn trace_wt_a_w_static(w: &SMatrix<f64, 4, 2>, a: &SMatrix<f64, 4, 4>) -> f64 {
    (w.transpose() * a * w).trace()
}

#[test]
fn static_trace_wt_a_w() {
    let mut r = rng(41);
    let w = SMatrix::<f64, 4, 2>::from_fn(|_, _| r.random_unit());
    let a = SMatrix::<f64, 4, 4>::from_fn(|_, _| r.random_unit());
    let g: SMatrix<f64, 4, 2> = trace_wt_a_w_static_grad(&w, &a);
    assert_close(&g, &((a + a.transpose()) * w), 1e-12);
    assert_close(&g, &fd(&w, |w| trace_wt_a_w_static(w, &a)), 1e-6);
}

/// Static and dynamic parameters in one function; a static determinant and inverse.
#[gradient(wrt = (x, m))]
fn mixed(x: &DMatrix<f64>, w: &Vector3<f64>, m: &Matrix3<f64>) -> f64 {
    (x * w).norm_squared()
        + m.determinant()
        + (w.transpose() * m.try_inverse().unwrap() * w)[(0, 0)]
}

#[test]
fn static_and_dynamic_mixed() {
    let mut r = rng(42);
    let x = mat(&mut r, 5, 3);
    let w = Vector3::from_fn(|_, _| r.random_unit());
    let m = Matrix3::identity() * 2.0 + Matrix3::from_fn(|_, _| 0.3 * r.random_unit());
    let (gx, gm): (DMatrix<f64>, Matrix3<f64>) = mixed_grad(&x, &w, &m);
    let want = DMatrix::from_iterator(5, 3, (2.0 * &x * w * w.transpose()).iter().copied());
    assert_close(&gx, &want, 1e-12);
    let mi = m.try_inverse().unwrap();
    let want =
        m.determinant() * mi.transpose() - mi.transpose() * w * w.transpose() * mi.transpose();
    assert_close(&gm, &want, 1e-12);
    assert_close(&gx, &fd(&x, |x| mixed(x, &w, &m)), 1e-6);
    assert_close(&gm, &fd(&m, |m| mixed(&x, &w, m)), 1e-6);
}

/// A row-vector variable.
#[gradient(wrt = r)]
fn row_vector(r: &RowDVector<f64>, a: &DMatrix<f64>) -> f64 {
    (r * a * r.transpose())[(0, 0)]
}

#[test]
fn row_vector_variable() {
    let mut g = rng(43);
    let r = RowDVector::from_fn(4, |_, _| g.random_unit());
    let a = mat(&mut g, 4, 4);
    let grad: RowDVector<f64> = row_vector_grad(&r, &a);
    assert_close(&grad, &(&r * (&a + a.transpose())), 1e-12);
    assert_close(&grad, &fd(&r, |r| row_vector(r, &a)), 1e-6);
}

// ---- f32 ---------------------------------------------------------------------------------------

#[gradient(wrt = w)]
fn logistic_f32(x: &DMatrix<f32>, w: &DVector<f32>, y: &DVector<f32>) -> f32 {
    let z = x * w;
    z.map(|v| (1.0 + v.exp()).ln()).sum() - y.dot(&z)
}

#[test]
fn f32_logistic_regression() {
    let mut r = rng(44);
    let x = mat(&mut r, 6, 3);
    let w = vec(&mut r, 3);
    let y = DVector::from_fn(6, |i, _| (i % 2) as f64);
    let (x32, w32, y32) = (
        x.clone().cast::<f32>(),
        w.clone().cast::<f32>(),
        y.clone().cast::<f32>(),
    );
    let g: DVector<f32> = logistic_f32_grad(&x32, &w32, &y32);
    let z = &x * &w;
    let sigma = z.map(|v| 1.0 / (1.0 + (-v).exp()));
    let want = x.transpose() * (sigma - &y);
    assert_close(&g.cast::<f64>(), &want, 1e-5);
    let (v, _) = logistic_f32_value_and_grad(&x32, &w32, &y32);
    assert_eq!(v, logistic_f32(&x32, &w32, &y32));
}

// ---- generic scalars -----------------------------------------------------------------------------

#[gradient(wrt = w)]
fn ridge_generic<T: RealField + Copy>(
    x: &DMatrix<T>,
    w: &DVector<T>,
    y: &DVector<T>,
    lambda: T,
) -> T {
    (x * w - y).norm_squared() + nalgebra::convert::<f64, T>(0.5) * lambda * w.norm_squared()
}

#[gradient(wrt = (x, s))]
fn generic_matrix_functions<T: RealField + Copy>(x: &DMatrix<T>, a: &DMatrix<T>, s: T) -> T {
    let m = x.transpose() * a * x;
    m.determinant().ln() * s
        + x.map(|v| (v * s).tanh()).sum()
        + (a * x.clone().try_inverse().unwrap()).trace()
}

#[test]
fn generic_scalar_in_f64_and_f32() {
    let mut r = rng(45);
    let (x, w, y) = (mat(&mut r, 7, 3), vec(&mut r, 3), vec(&mut r, 7));
    let g = ridge_generic_grad(&x, &w, &y, 0.3);
    let want = 2.0 * x.transpose() * (&x * &w - &y) + 0.3 * &w;
    assert_close(&g, &want, 1e-12);
    assert_close(&g, &fd(&w, |w| ridge_generic(&x, w, &y, 0.3)), 1e-6);
    let g32 = ridge_generic_grad(
        &x.clone().cast::<f32>(),
        &w.clone().cast::<f32>(),
        &y.clone().cast::<f32>(),
        0.3f32,
    );
    assert_close(&g32.cast::<f64>(), &want, 1e-4);
}

#[test]
fn generic_determinant_inverse_and_map() {
    let mut r = rng(46);
    let x = well_conditioned(&mut r, 3);
    let a = spd(&mut r, 3);
    let s = 0.7;
    let (gx, gs) = generic_matrix_functions_grad(&x, &a, s);
    assert_close(&gx, &fd(&x, |x| generic_matrix_functions(x, &a, s)), 1e-6);
    assert_close_scalar(
        gs,
        fd_scalar(s, |s| generic_matrix_functions(&x, &a, s)),
        1e-6,
    );
}

// ---- run-time shape checks ------------------------------------------------------------------------

#[gradient(wrt = w)]
fn least_squares(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (x * w - y).norm_squared()
}

#[test]
#[should_panic(expected = "least_squares_grad: `x` has 3 columns but `w` has 5 rows")]
fn mismatched_shapes_panic_with_names_and_sizes() {
    let _ = least_squares_grad(
        &DMatrix::zeros(4, 3),
        &DVector::zeros(5),
        &DVector::zeros(4),
    );
}

#[test]
#[should_panic(expected = "least_squares_value_and_grad: `x` has 4 rows but `y` has 2 rows")]
fn mismatched_shapes_panic_in_value_and_grad() {
    let _ = least_squares_value_and_grad(
        &DMatrix::zeros(4, 3),
        &DVector::zeros(3),
        &DVector::zeros(2),
    );
}

#[test]
fn try_variants_report_the_mismatch() {
    let (x, w, y) = (DMatrix::zeros(4, 3), DVector::zeros(5), DVector::zeros(4));
    let err = try_least_squares_grad(&x, &w, &y).unwrap_err();
    assert_eq!(err.function(), "least_squares_grad");
    assert_eq!(err.message(), "`x` has 3 columns but `w` has 5 rows");
    let err =
        try_least_squares_value_and_grad(&x, &DVector::zeros(3), &DVector::zeros(1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "least_squares_value_and_grad: `x` has 4 rows but `y` has 1 row"
    );
    // Fitting shapes pass through.
    let mut r = rng(47);
    let (x, w, y) = (mat(&mut r, 4, 3), vec(&mut r, 3), vec(&mut r, 4));
    assert_eq!(
        try_least_squares_grad(&x, &w, &y).unwrap(),
        least_squares_grad(&x, &w, &y)
    );
    assert_eq!(
        try_least_squares_value_and_grad(&x, &w, &y).unwrap().0,
        least_squares(&x, &w, &y)
    );
    let (v, g) = try_least_squares_value_and_grad(&x, &w, &y).unwrap();
    assert_eq!((v, g), least_squares_value_and_grad(&x, &w, &y));
}

/// A dynamic size that the body fixes: `x * w` with a static `w` needs 3 columns.
#[gradient(wrt = w)]
fn fixed_by_static(x: &DMatrix<f64>, w: &Vector3<f64>) -> f64 {
    (x * w).sum()
}

#[test]
fn dynamic_size_fixed_by_a_static_partner() {
    let ok =
        try_fixed_by_static_grad(&DMatrix::from_element(2, 3, 1.0), &Vector3::zeros()).unwrap();
    assert_eq!(ok, Vector3::repeat(2.0));
    assert_eq!(
        fixed_by_static(&DMatrix::from_element(2, 3, 1.0), &Vector3::repeat(1.0)),
        6.0
    );
    let err = try_fixed_by_static_grad(&DMatrix::zeros(2, 4), &Vector3::zeros()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "fixed_by_static_grad: `x` has 4 columns but must have 3"
    );
}

/// Squareness is a dimension equality too.
#[gradient(wrt = x)]
fn trace_of(x: &DMatrix<f64>) -> f64 {
    x.trace()
}

#[test]
fn square_required() {
    assert_eq!(trace_of(&DMatrix::identity(3, 3)), 3.0);
    let err = try_trace_of_grad(&DMatrix::zeros(2, 3)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "trace_of_grad: `x` has 2 rows but `x` has 3 columns"
    );
}

// ---- the seed examples in static, f32 and generic form ------------------------------------------

/// Seed 000: aᵀXb → a bᵀ, with a static X (3×2).
#[gradient(wrt = x)]
fn a_x_b_static(a: &Vector3<f64>, x: &Matrix3x2<f64>, b: &Vector2<f64>) -> f64 {
    (a.transpose() * x * b)[(0, 0)]
}

/// Seed 000: tr(BᵀXᵀCXB) → (C + Cᵀ)XBBᵀ in f32.
#[gradient(wrt = x)]
fn trace_bxcxb_f32(b: &DMatrix<f32>, x: &DMatrix<f32>, c: &DMatrix<f32>) -> f32 {
    (b.transpose() * x.transpose() * c * x * b).trace()
}

/// Seed 003: xᵀAx → (A + Aᵀ)x, generic over the scalar.
#[gradient(wrt = x)]
fn quadratic_generic<T: RealField + Copy>(x: &DVector<T>, a: &DMatrix<T>) -> T {
    (x.transpose() * a * x)[(0, 0)]
}

/// Seed 004: det A → det(A) A⁻ᵀ, static 3×3 and generic.
#[gradient(wrt = a)]
fn determinant_static(a: &Matrix3<f64>) -> f64 {
    a.determinant()
}

#[gradient(wrt = a)]
fn determinant_generic<T: RealField + Copy>(a: &DMatrix<T>) -> T {
    a.determinant()
}

/// Seed 000: least squares in f32 with a static design matrix.
#[gradient(wrt = w)]
fn least_squares_f32_static(x: &Matrix3x2<f32>, w: &Vector2<f32>, y: &Vector3<f32>) -> f32 {
    (x * w - y).norm_squared()
}

#[test]
fn seed_examples_in_static_f32_and_generic_form() {
    let mut r = rng(48);
    let a = Vector3::from_fn(|_, _| r.random_unit());
    let x = Matrix3x2::from_fn(|_, _| r.random_unit());
    let b = Vector2::from_fn(|_, _| r.random_unit());
    let g: Matrix3x2<f64> = a_x_b_static_grad(&a, &x, &b);
    assert_close(&g, &(a * b.transpose()), 1e-14);
    assert_close(&g, &fd(&x, |x| a_x_b_static(&a, x, &b)), 1e-6);

    let (bb, xx, cc) = (mat(&mut r, 3, 2), mat(&mut r, 4, 3), mat(&mut r, 4, 4));
    let g32 = trace_bxcxb_f32_grad(
        &bb.clone().cast::<f32>(),
        &xx.clone().cast::<f32>(),
        &cc.clone().cast::<f32>(),
    );
    let want = (&cc + cc.transpose()) * &xx * &bb * bb.transpose();
    assert_close(&g32.cast::<f64>(), &want, 1e-4);
    let _ = trace_bxcxb_f32(&bb.cast::<f32>(), &xx.cast::<f32>(), &cc.cast::<f32>());

    let (v, m) = (vec(&mut r, 4), mat(&mut r, 4, 4));
    assert_close(
        &quadratic_generic_grad(&v, &m),
        &((&m + m.transpose()) * &v),
        1e-12,
    );
    let g32 = quadratic_generic_grad(&v.clone().cast::<f32>(), &m.clone().cast::<f32>());
    assert_close(&g32.cast::<f64>(), &((&m + m.transpose()) * &v), 1e-5);
    let _ = quadratic_generic(&v, &m);

    let s = Matrix3::identity() * 2.0 + Matrix3::from_fn(|_, _| 0.3 * r.random_unit());
    let want = s.determinant() * s.try_inverse().unwrap().transpose();
    assert_close(&determinant_static_grad(&s), &want, 1e-12);
    let sd = DMatrix::from_column_slice(3, 3, s.as_slice());
    assert_close(
        &determinant_generic_grad(&sd),
        &DMatrix::from_column_slice(3, 3, want.as_slice()),
        1e-12,
    );
    let _ = (determinant_static(&s), determinant_generic(&sd));

    let x = Matrix3x2::<f32>::new(1.0, 2.0, 0.5, -1.0, 3.0, 0.25);
    let (w, y) = (
        Vector2::<f32>::new(0.3, -0.7),
        Vector3::<f32>::new(1.0, 0.0, -1.0),
    );
    let g: Vector2<f32> = least_squares_f32_static_grad(&x, &w, &y);
    assert_close(
        &g.cast::<f64>(),
        &(2.0 * x.transpose() * (x * w - y)).cast::<f64>(),
        1e-6,
    );
    let _ = least_squares_f32_static(&x, &w, &y);
}
