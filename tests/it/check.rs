//! `matgrad::check`: the finite-difference gradient check offered to users.

use matgrad::check::{self, Check, Shape, Variable, DEFAULT_STEP, DEFAULT_TOLERANCE};
use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector, Matrix2x3, RowDVector, Vector3};

use crate::support::*;

#[gradient(wrt = a)]
fn residual(a: &DMatrix<f64>, b: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (a * b - y).norm_squared()
}

#[gradient(wrt = w)]
fn least_squares(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (x * w - y).norm_squared()
}

#[gradient(wrt = (a, s, b))]
fn scaled(a: &DMatrix<f64>, s: f64, b: &DVector<f64>) -> f64 {
    (a * b).norm_squared() * s
}

#[gradient(wrt = a)]
fn static_quad(a: &Matrix2x3<f64>, x: &Vector3<f64>) -> f64 {
    (a * x).norm_squared()
}

/// tr(Xᵀ M X), whose gradient is (M + Mᵀ) X.
fn trace_form(x: &DMatrix<f64>, m: &DMatrix<f64>) -> f64 {
    (x.transpose() * m * x).trace()
}

#[test]
fn default_step_is_cube_root_of_epsilon() {
    assert!((DEFAULT_STEP - f64::EPSILON.cbrt()).abs() <= 1e-15 * DEFAULT_STEP);
    assert_eq!(DEFAULT_TOLERANCE, 1e-6);
    let c = Check::new();
    assert_eq!(c, Check::default());
}

#[test]
fn passes_for_matrix_gradient() {
    let mut r = rng(11);
    let (a, b, y) = (mat(&mut r, 5, 3), vec(&mut r, 3), vec(&mut r, 5));
    let report = check::gradient(|a| residual(a, &b, &y), |a| residual_grad(a, &b, &y), &a);
    assert!(report.passed(), "{report}");
    assert_eq!(report.entries_checked(), 15);
    assert_eq!(report.entries_failed(), 0);
    let worst = report.worst().unwrap();
    assert!(worst.passed && worst.rel_error < 1e-8, "{report}");
    assert_eq!(worst.location.shape, Shape::Matrix { rows: 5, cols: 3 });
    println!("{report}");
}

#[test]
fn passes_for_vector_gradient() {
    let mut r = rng(12);
    let (x, w, y) = (mat(&mut r, 7, 3), vec(&mut r, 3), vec(&mut r, 7));
    check::gradient(
        |w| least_squares(&x, w, &y),
        |w| least_squares_grad(&x, w, &y),
        &w,
    )
    .assert_passed();
}

#[test]
fn passes_for_scalar_variable() {
    let f = |s: &f64| s.sin() * s.powi(3);
    let g = |s: &f64| s.cos() * s.powi(3) + 3.0 * s.sin() * s * s;
    for s in [-2.5, 0.0, 1e-3, 1.3, 40.0] {
        let report = check::gradient(f, g, &s);
        assert!(report.passed(), "s = {s}: {report}");
        assert_eq!(report.entries_checked(), 1);
        assert_eq!(report.worst().unwrap().location.shape, Shape::Scalar);
    }
}

#[test]
fn passes_for_static_matrix2x3() {
    let a = Matrix2x3::new(1.0, -2.0, 0.5, 3.0, -1.5, 2.0);
    let x = Vector3::new(0.25, -1.0, 2.0);
    let report = check::gradient(|a| static_quad(a, &x), |a| static_quad_grad(a, &x), &a);
    assert!(report.passed(), "{report}");
    assert_eq!(report.entries_checked(), 6);
    // And a hand-written one, against the same finite differences.
    check::gradient(
        |a: &Matrix2x3<f64>| (a * x).norm_squared(),
        |a| 2.0 * (a * x) * x.transpose(),
        &a,
    )
    .assert_passed();
}

#[test]
fn passes_for_tuple_of_three_variables() {
    let mut r = rng(13);
    let (a, s, b) = (mat(&mut r, 5, 3), 0.7, vec(&mut r, 3));
    let report = check::gradient(
        |(a, s, b)| scaled(a, *s, b),
        |(a, s, b)| scaled_grad(a, *s, b),
        &(a, s, b),
    );
    assert!(report.passed(), "{report}");
    assert_eq!(report.entries_checked(), 15 + 1 + 3);
}

#[test]
fn passes_for_tuple_of_four_mixed_variables() {
    // f(a, s, u, v) = s · uᵀ a vᵀ, with a 3×2, u a column and v a row.
    let mut r = rng(14);
    let x = (
        mat(&mut r, 3, 2),
        -1.7,
        vec(&mut r, 3),
        RowDVector::from_vec(vec![0.3, -0.8]),
    );
    let f = |(a, s, u, v): &(DMatrix<f64>, f64, DVector<f64>, RowDVector<f64>)| {
        s * (u.transpose() * a * v.transpose())[0]
    };
    let g = |(a, s, u, v): &(DMatrix<f64>, f64, DVector<f64>, RowDVector<f64>)| {
        (
            *s * u * v,
            (u.transpose() * a * v.transpose())[0],
            *s * a * v.transpose(),
            *s * u.transpose() * a,
        )
    };
    let report = check::gradient(f, g, &x);
    assert!(report.passed(), "{report}");
    assert_eq!(report.entries_checked(), 6 + 1 + 3 + 2);
    assert_eq!(x.num_variables(), 4);
    assert_eq!(x.shape(3), Shape::Matrix { rows: 1, cols: 2 });
    // Flat indices run column-major through each variable, then on to the next.
    let loc = x.locate(4);
    assert_eq!((loc.variable, loc.row, loc.col), (0, 1, 1));
    let loc = x.locate(6);
    assert_eq!((loc.variable, loc.shape), (1, Shape::Scalar));
    let loc = x.locate(11);
    assert_eq!((loc.variable, loc.row, loc.col), (3, 0, 1));
    assert_eq!(x.entry(11), -0.8);
}

#[test]
fn missing_transpose_on_rectangular_matrix_is_a_shape_mismatch() {
    // f(a) = uᵀ a v with a 3×2: ∇f = u vᵀ (3×2); forgetting the transpose gives v uᵀ (2×3).
    let mut r = rng(15);
    let (a, u, v) = (mat(&mut r, 3, 2), vec(&mut r, 3), vec(&mut r, 2));
    let f = |a: &DMatrix<f64>| (u.transpose() * a * &v)[0];
    let report = check::gradient(f, |_| &u * v.transpose(), &a);
    assert!(report.passed(), "{report}");

    let report = check::gradient(f, |_| &v * u.transpose(), &a);
    assert!(!report.passed());
    assert_eq!(report.entries_checked(), 0);
    assert!(report.worst().is_none());
    let m = report.shape_mismatch().unwrap();
    assert_eq!(m.variable, 0);
    assert_eq!(m.expected, Shape::Matrix { rows: 3, cols: 2 });
    assert_eq!(m.found, Shape::Matrix { rows: 2, cols: 3 });
    let text = report.to_string();
    assert!(text.contains("FAILED"), "{text}");
    assert!(
        text.contains("variable 0 is a 2×3 matrix, but the variable is a 3×2 matrix"),
        "{text}"
    );
    println!("{text}");
}

#[test]
fn missing_transpose_inside_gradient_reports_worst_entry() {
    // ∇ tr(Xᵀ M X) = (M + Mᵀ) X; the bug writes 2 M X, which has the right shape.
    let mut r = rng(16);
    let (x, m) = (mat(&mut r, 4, 2), mat(&mut r, 4, 4));
    let right = (&m + m.transpose()) * &x;
    let wrong = 2.0 * &m * &x;

    check::gradient(|x| trace_form(x, &m), |x| (&m + m.transpose()) * x, &x).assert_passed();
    let report = check::gradient(|x| trace_form(x, &m), |x| 2.0 * &m * x, &x);
    assert!(!report.passed());

    // The worst entry is where |wrong − right| / max(1, |wrong|) is largest.
    let score = |k: usize| (wrong[k] - right[k]).abs() / wrong[k].abs().max(1.0);
    let k = (0..x.len())
        .max_by(|&i, &j| score(i).total_cmp(&score(j)))
        .unwrap();
    let w = report.worst().unwrap();
    assert_eq!(
        (w.location.variable, w.location.row, w.location.col),
        (0, k % 4, k / 4)
    );
    assert_eq!(w.analytic, wrong[k]);
    assert!((w.numeric - right[k]).abs() < 1e-8, "{report}");
    assert!((w.abs_error - (wrong[k] - right[k]).abs()).abs() < 1e-8);
    assert!((w.rel_error - score(k)).abs() < 1e-8);
    assert!(!w.passed);
    let failing = (0..x.len()).filter(|&k| score(k) > 1e-6).count();
    assert_eq!(report.entries_failed(), failing);
    println!("{report}");
}

/// The variables of `scaled`, which are also its gradient's type.
type Scaled = (DMatrix<f64>, f64, DVector<f64>);

/// `scaled` at a seeded point, with its correct gradient.
fn scaled_point() -> (Scaled, Scaled) {
    let mut r = rng(17);
    let x = (mat(&mut r, 5, 3), 1.3, vec(&mut r, 3) * 2.0);
    let g = scaled_grad(&x.0, x.1, &x.2);
    (x, g)
}

#[test]
fn factor_two_in_one_entry_is_located() {
    let (x, g) = scaled_point();
    let f = |(a, s, b): &Scaled| scaled(a, *s, b);

    // In the matrix: variable 0, entry (3, 1).
    let mut bad = g.clone();
    bad.0[(3, 1)] *= 2.0;
    let report = check::gradient(f, |_| bad.clone(), &x);
    assert!(!report.passed());
    assert_eq!(report.entries_failed(), 1);
    let w = report.worst().unwrap();
    assert_eq!(
        (w.location.variable, w.location.row, w.location.col),
        (0, 3, 1)
    );
    assert_eq!(w.location.shape, Shape::Matrix { rows: 5, cols: 3 });
    assert_eq!(w.analytic, 2.0 * g.0[(3, 1)]);
    assert!((w.numeric - g.0[(3, 1)]).abs() < 1e-7 * g.0[(3, 1)].abs().max(1.0));

    // In the scalar: variable 1.
    let mut bad = g.clone();
    bad.1 *= 2.0;
    let report = check::gradient(f, |_| bad.clone(), &x);
    assert_eq!(report.entries_failed(), 1);
    let w = report.worst().unwrap();
    assert_eq!((w.location.variable, w.location.shape), (1, Shape::Scalar));

    // In the last variable, a vector: variable 2, entry (2, 0).
    let mut bad = g.clone();
    bad.2[2] *= 2.0;
    let report = check::gradient(f, |_| bad.clone(), &x);
    assert_eq!(report.entries_failed(), 1);
    let w = report.worst().unwrap();
    assert_eq!(
        (w.location.variable, w.location.row, w.location.col),
        (2, 2, 0)
    );
    assert_eq!(w.location.shape, Shape::Matrix { rows: 3, cols: 1 });
}

#[test]
fn display_mentions_the_worst_entry() {
    let (x, g) = scaled_point();
    let f = |(a, s, b): &Scaled| scaled(a, *s, b);
    let mut bad = g.clone();
    bad.0[(3, 1)] *= 2.0;
    let text = check::gradient(f, |_| bad.clone(), &x).to_string();
    println!("{text}");
    assert!(
        text.starts_with("gradient check FAILED: 1 of 19 entries outside tolerance"),
        "{text}"
    );
    assert!(text.contains("tolerance 1.0e-6"), "{text}");
    assert!(
        text.contains("worst: variable 0, entry (3, 1) of the 5×3 matrix"),
        "{text}"
    );
    assert!(
        text.contains(&format!("analytic  {:+.12e}", bad.0[(3, 1)])),
        "{text}"
    );
    assert!(text.contains("numeric"), "{text}");
    assert!(text.contains("rel error"), "{text}");

    let text = check::gradient(f, |_| g.clone(), &x).to_string();
    println!("{text}");
    assert!(
        text.starts_with("gradient check passed: 19 entries checked"),
        "{text}"
    );
    assert!(text.contains("worst: "), "{text}");
}

#[test]
#[should_panic(expected = "worst: variable 0, entry (3, 1) of the 5×3 matrix")]
fn assert_passed_panics_with_the_report() {
    let (x, g) = scaled_point();
    let mut bad = g.clone();
    bad.0[(3, 1)] *= 2.0;
    check::gradient(|(a, s, b)| scaled(a, *s, b), |_| bad.clone(), &x).assert_passed();
}

#[test]
fn nan_in_analytic_gradient_fails_and_ranks_worst() {
    let (x, g) = scaled_point();
    let f = |(a, s, b): &Scaled| scaled(a, *s, b);
    let mut bad = g.clone();
    bad.0[(0, 2)] *= 2.0; // a finite error, found first
    bad.2[1] = f64::NAN;
    let report = check::gradient(f, |_| bad.clone(), &x);
    assert!(!report.passed());
    assert_eq!(report.entries_failed(), 2);
    let w = report.worst().unwrap();
    assert_eq!((w.location.variable, w.location.row), (2, 1));
    assert!(w.analytic.is_nan() && w.numeric.is_finite() && !w.passed);
    let text = report.to_string();
    assert!(text.contains("the analytic gradient is NaN"), "{text}");

    // Infinite is no better.
    let mut bad = g.clone();
    bad.1 = f64::INFINITY;
    let report = check::gradient(f, |_| bad.clone(), &x);
    assert_eq!(report.entries_failed(), 1);
    assert_eq!(report.worst().unwrap().location.variable, 1);
}

#[test]
fn nan_in_finite_difference_fails() {
    // Σ ln x_k at a point so close to 0 that x − h leaves the domain.
    let x = DVector::from_vec(vec![1.0, 1e-7, 2.0]);
    let report = check::gradient(
        |x: &DVector<f64>| x.iter().map(|v| v.ln()).sum(),
        |x| x.map(|v| 1.0 / v),
        &x,
    );
    assert!(!report.passed());
    assert_eq!(report.entries_failed(), 1);
    let w = report.worst().unwrap();
    assert_eq!(w.location.row, 1);
    assert!(w.analytic.is_finite() && w.numeric.is_nan());
    let text = report.to_string();
    assert!(text.contains("the finite difference is NaN"), "{text}");
    println!("{text}");
}

#[test]
fn both_nan_fails() {
    let x = DMatrix::from_element(2, 3, 1.0);
    let report = check::gradient(|_: &DMatrix<f64>| f64::NAN, |x| x.map(|_| f64::NAN), &x);
    assert!(!report.passed());
    assert_eq!(report.entries_failed(), 6);
    let w = report.worst().unwrap();
    assert_eq!((w.location.row, w.location.col), (0, 0));
}

#[test]
fn tolerance_and_step_are_configurable() {
    let mut r = rng(18);
    let (a, b, y) = (mat(&mut r, 5, 3), vec(&mut r, 3), vec(&mut r, 5));
    let f = |a: &DMatrix<f64>| residual(a, &b, &y);
    // A gradient off by 1e-4 relative in every entry.
    let slightly_off = |a: &DMatrix<f64>| residual_grad(a, &b, &y) * (1.0 + 1e-4);
    let report = check::gradient(f, slightly_off, &a);
    assert!(!report.passed(), "{report}");
    assert_eq!(report.tolerance(), DEFAULT_TOLERANCE);
    assert_eq!(report.step(), DEFAULT_STEP);

    let report = Check::new().tolerance(1e-3).gradient(f, slightly_off, &a);
    assert!(report.passed(), "{report}");
    assert_eq!(report.tolerance(), 1e-3);

    // A quadratic is differentiated exactly by central differences, whatever the step.
    let report = Check::new()
        .step(1e-2)
        .gradient(f, |a| residual_grad(a, &b, &y), &a);
    assert!(report.passed(), "{report}");
    assert_eq!(report.step(), 1e-2);
}

#[test]
fn large_entries_get_a_scaled_step() {
    // f = Σ x³/3 at entries of order 1e5: an absolute step of 6e-6 would move f by less than
    // its rounding error (|f| ≈ 1e16); h = h0·|x| keeps the error near ε^(2/3).
    let f = |x: &DVector<f64>| x.iter().map(|v| v.powi(3) / 3.0).sum::<f64>();
    let x = DVector::from_vec(vec![1e5, -3e5, 2e5]);
    let report = check::gradient(f, |x| x.map(|v| v * v), &x);
    assert!(report.passed(), "{report}");
    assert!(report.worst().unwrap().rel_error < 1e-7, "{report}");
    let absolute = Check::new()
        .step(DEFAULT_STEP / 3e5)
        .gradient(f, |x| x.map(|v| v * v), &x);
    assert!(!absolute.passed(), "{absolute}");

    // The flip side, as documented: a small entry next to large ones sees a value of f whose
    // rounding error swamps its slope, and needs a looser tolerance (or its own check).
    let x = DVector::from_vec(vec![1e5, 0.5]);
    let report = check::gradient(f, |x| x.map(|v| v * v), &x);
    assert!(!report.passed(), "{report}");
    assert_eq!(report.worst().unwrap().location.row, 1);
}

#[test]
fn empty_variable_passes_vacuously() {
    let x = DMatrix::<f64>::zeros(0, 3);
    let report = check::gradient(|_: &DMatrix<f64>| 1.0, |x| x.clone(), &x);
    assert!(report.passed());
    assert_eq!(report.entries_checked(), 0);
    assert!(report.worst().is_none());
    assert!(report.to_string().contains("0 entries checked"));
}

#[test]
#[should_panic(expected = "the tolerance must be finite and non-negative")]
fn negative_tolerance_panics() {
    let _ = Check::new().tolerance(-1e-6);
}

#[test]
#[should_panic(expected = "the step must be finite and positive")]
fn zero_step_panics() {
    let _ = Check::new().step(0.0);
}
