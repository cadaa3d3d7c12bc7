//! The Moré–Garbow–Hillstrom least-squares test problems (J. J. Moré, B. S. Garbow and K. E.
//! Hillstrom, "Testing unconstrained optimization software", ACM TOMS 7(1), 1981), as
//! `#[jacobian]` residual functions with `least_squares = ..`, minimised by levenberg-marquardt
//! from the paper's standard starting points to the published minima f = ‖r‖² (the crate reports
//! ½‖r‖²). levenberg-marquardt's own test suite uses the same problems (and reports the same
//! minima) with hand-written Jacobians; here the Jacobians are matgrad's, and each adapter is
//! checked against central differences and against the crate's `differentiate_numerically`.

use levenberg_marquardt::{differentiate_numerically, LeastSquaresProblem, LevenbergMarquardt};
use matgrad::jacobian;
use matgrad_integrations::{central_jacobian, relative_error};
use nalgebra::{DVector, Vector2, Vector3, Vector4};

/// Rosenbrock (MGH 1): f = 0 at (1, 1), from (−1.2, 1).
#[jacobian(wrt = p, least_squares = Rosenbrock)]
fn rosenbrock(p: &Vector2<f64>) -> Vector2<f64> {
    Vector2::new(10.0 * (p[1] - p[0] * p[0]), 1.0 - p[0])
}

/// Freudenstein and Roth (MGH 2): from (0.5, −2) the minimum found is the local one,
/// f = 48.9842… at (11.41…, −0.8968…) (the global one is f = 0 at (5, 4)).
#[jacobian(wrt = p, least_squares = FreudensteinRoth)]
fn freudenstein_roth(p: &Vector2<f64>) -> Vector2<f64> {
    Vector2::new(
        -13.0 + p[0] + ((5.0 - p[1]) * p[1] - 2.0) * p[1],
        -29.0 + p[0] + ((1.0 + p[1]) * p[1] - 14.0) * p[1],
    )
}

/// Powell singular (MGH 13): f = 0 at the origin, where the Jacobian is singular, from
/// (3, −1, 0, 1).
#[jacobian(wrt = p, least_squares = PowellSingular)]
fn powell_singular(p: &Vector4<f64>) -> Vector4<f64> {
    Vector4::new(
        p[0] + 10.0 * p[1],
        5f64.sqrt() * (p[2] - p[3]),
        (p[1] - 2.0 * p[2]).powi(2),
        10f64.sqrt() * (p[0] - p[3]).powi(2),
    )
}

/// Bard (MGH 8): yᵢ − (x₁ + uᵢ / (x₂ vᵢ + x₃ wᵢ)) with uᵢ = i, vᵢ = 16 − i, wᵢ = min(uᵢ, vᵢ);
/// f = 8.21487…e−3 at (0.0824, 1.133, 2.344), from (1, 1, 1). Data as `DVector`s, parameters
/// static: the adapter's Jacobian is then `OMatrix<f64, Dyn, U3>`.
#[jacobian(wrt = x, least_squares = Bard)]
fn bard(
    x: &Vector3<f64>,
    u: &DVector<f64>,
    v: &DVector<f64>,
    w: &DVector<f64>,
    y: &DVector<f64>,
) -> DVector<f64> {
    y - u.component_div(&(v * x[1] + w * x[2])).add_scalar(x[0])
}

/// Box three-dimensional (MGH 12), m = 10, tᵢ = 0.1 i:
/// exp(−tᵢx₁) − exp(−tᵢx₂) − x₃ (exp(−tᵢ) − exp(−10tᵢ)); f = 0 at (1, 10, 1), from (0, 10, 20).
/// Dynamic parameters.
#[jacobian(wrt = x, least_squares = Box3d)]
fn box_3d(x: &DVector<f64>, t: &DVector<f64>) -> DVector<f64> {
    let c: DVector<f64> = t.map(|ti| (-ti).exp() - (-10.0 * ti).exp());
    (t * -x[0]).map(|v| v.exp()) - (t * -x[1]).map(|v| v.exp()) - c * x[2]
}

/// Jennrich and Sampson (MGH 6), m = 10: 2 + 2i − (exp(i x₁) + exp(i x₂));
/// f = 124.362… at x₁ = x₂ = 0.2578, from (0.3, 0.4).
#[jacobian(wrt = x, least_squares = JennrichSampson)]
fn jennrich_sampson(x: &Vector2<f64>, i: &DVector<f64>) -> DVector<f64> {
    (i * 2.0).add_scalar(2.0) - (i * x[0]).map(|v| v.exp()) - (i * x[1]).map(|v| v.exp())
}

/// What a run reached: f = ‖r‖² and the parameters.
struct Reached {
    f: f64,
    params: DVector<f64>,
    evaluations: usize,
}

fn solve<P>(problem: P) -> (P, Reached)
where
    P: LeastSquaresProblem<
        f64,
        nalgebra::Dyn,
        nalgebra::Dyn,
        ParameterStorage = nalgebra::VecStorage<f64, nalgebra::Dyn, nalgebra::U1>,
    >,
{
    let (problem, report) = LevenbergMarquardt::new().minimize(problem);
    assert!(
        report.termination.was_successful(),
        "{:?}",
        report.termination
    );
    let reached = Reached {
        f: 2.0 * report.objective_function,
        params: problem.params(),
        evaluations: report.number_of_evaluations,
    };
    (problem, reached)
}

/// `solve` for a problem with static sizes.
macro_rules! solve_static {
    ($problem:expr) => {{
        let (problem, report) = LevenbergMarquardt::new().minimize($problem);
        assert!(
            report.termination.was_successful(),
            "{:?}",
            report.termination
        );
        let params = problem.params();
        let reached = Reached {
            f: 2.0 * report.objective_function,
            params: DVector::from_column_slice(params.as_slice()),
            evaluations: report.number_of_evaluations,
        };
        (problem, reached)
    }};
}

#[track_caller]
fn assert_minimum(name: &str, reached: &Reached, f: f64, f_tol: f64, x: &[f64], x_tol: f64) {
    println!(
        "{name}: f = {:.6e} at {:?} after {} evaluations",
        reached.f,
        reached.params.as_slice(),
        reached.evaluations
    );
    assert!(
        (reached.f - f).abs() <= f_tol,
        "{name}: f = {} but the published minimum is {f} (± {f_tol})",
        reached.f
    );
    let want = DVector::from_column_slice(x);
    let err = relative_error(&reached.params, &want);
    assert!(
        err <= x_tol,
        "{name}: reached {:?}, published {x:?} (relative error {err:.1e} > {x_tol:.0e})",
        reached.params.as_slice()
    );
}

/// The adapter at a point agrees with the function and with two independent finite-difference
/// Jacobians: central differences of the residual function, and levenberg-marquardt's own
/// `differentiate_numerically` through the trait.
macro_rules! check_adapter {
    ($problem:expr, $point:expr, $residuals:expr) => {{
        let mut problem = $problem;
        let point = $point;
        problem.set_params(&point);
        assert_eq!(problem.params(), point);
        let r = problem.residuals().expect("residuals");
        let direct = $residuals(&point);
        assert_eq!(r.as_slice(), direct.as_slice());
        let j = problem.jacobian().expect("jacobian");
        let jd = DVector::from_column_slice(point.as_slice());
        let fd = central_jacobian(&jd, |x| {
            let p = nalgebra::OMatrix::from_column_slice_generic(
                point.shape_generic().0,
                nalgebra::Const::<1>,
                x.as_slice(),
            );
            let r = $residuals(&p);
            DVector::from_column_slice(r.as_slice())
        });
        let j_dyn = nalgebra::DMatrix::from_column_slice(j.nrows(), j.ncols(), j.as_slice());
        let err = relative_error(&j_dyn, &fd);
        assert!(
            err < 1e-6,
            "Jacobian vs central differences: {err:.1e}\n{j_dyn}{fd}"
        );
        let num = differentiate_numerically(&mut problem).expect("numerical Jacobian");
        let num = nalgebra::DMatrix::from_column_slice(num.nrows(), num.ncols(), num.as_slice());
        let err = relative_error(&j_dyn, &num);
        assert!(
            err < 1e-5,
            "Jacobian vs differentiate_numerically: {err:.1e}"
        );
    }};
}

fn bard_data() -> [DVector<f64>; 4] {
    let y = [
        0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39,
    ];
    let u = DVector::from_fn(15, |i, _| (i + 1) as f64);
    let v = DVector::from_fn(15, |i, _| (15 - i) as f64);
    let w = u.zip_map(&v, f64::min);
    [u, v, w, DVector::from_column_slice(&y)]
}

fn ten() -> DVector<f64> {
    DVector::from_fn(10, |i, _| (i + 1) as f64)
}

#[test]
fn rosenbrock_reaches_one_one() {
    let (_, reached) = solve_static!(Rosenbrock::new(Vector2::new(-1.2, 1.0)));
    assert_minimum("Rosenbrock", &reached, 0.0, 1e-20, &[1.0, 1.0], 1e-10);
    check_adapter!(
        Rosenbrock::new(Vector2::zeros()),
        Vector2::new(0.0871, 0.0202),
        rosenbrock
    );
}

#[test]
fn freudenstein_roth_reaches_the_local_minimum() {
    let (_, reached) = solve_static!(FreudensteinRoth::new(Vector2::new(0.5, -2.0)));
    assert_minimum(
        "Freudenstein-Roth",
        &reached,
        48.9842,
        1e-4,
        &[11.4128, -0.896805],
        1e-4,
    );
    check_adapter!(
        FreudensteinRoth::new(Vector2::zeros()),
        Vector2::new(0.118, 0.640),
        freudenstein_roth
    );
}

#[test]
fn powell_singular_reaches_the_origin() {
    let (_, reached) = solve_static!(PowellSingular::new(Vector4::new(3.0, -1.0, 0.0, 1.0)));
    // The Jacobian is singular at the solution, so convergence is linear: the published
    // minimum is f = 0 at the origin, reached to the solver's tolerances.
    assert_minimum("Powell singular", &reached, 0.0, 1e-30, &[0.0; 4], 1e-7);
    check_adapter!(
        PowellSingular::new(Vector4::zeros()),
        Vector4::new(0.979, 0.799, 0.461, 0.781),
        powell_singular
    );
}

#[test]
fn bard_reaches_the_published_minimum() {
    let [u, v, w, y] = bard_data();
    let (_, reached) = solve_static!(Bard::new(
        u.clone(),
        v.clone(),
        w.clone(),
        y.clone(),
        Vector3::new(1.0, 1.0, 1.0)
    ));
    assert_minimum(
        "Bard",
        &reached,
        8.21487e-3,
        1e-8,
        &[0.0824106, 1.13304, 2.34370],
        1e-5,
    );
    check_adapter!(
        Bard::new(u.clone(), v.clone(), w.clone(), y.clone(), Vector3::zeros()),
        Vector3::new(0.143, 0.945, 0.522),
        |x: &Vector3<f64>| bard(x, &u, &v, &w, &y)
    );
}

#[test]
fn box_3d_reaches_one_ten_one() {
    let t = ten() * 0.1;
    let (problem, reached) = solve(Box3d::new(
        t.clone(),
        DVector::from_column_slice(&[0.0, 10.0, 20.0]),
    ));
    assert_minimum("Box 3-D", &reached, 0.0, 1e-20, &[1.0, 10.0, 1.0], 1e-6);
    // One evaluation of residuals and Jacobian together per evaluation levenberg-marquardt
    // counts: the one in `new` answers its first `residuals()`, each `set_params` the rest.
    assert_eq!(problem.evaluations(), reached.evaluations);
    check_adapter!(
        Box3d::new(t.clone(), DVector::zeros(3)),
        DVector::from_column_slice(&[0.5, 3.0, 0.7]),
        |x: &DVector<f64>| box_3d(x, &t)
    );
}

#[test]
fn jennrich_sampson_reaches_the_published_minimum() {
    let i = ten();
    let (_, reached) = solve_static!(JennrichSampson::new(i.clone(), Vector2::new(0.3, 0.4)));
    assert_minimum(
        "Jennrich-Sampson",
        &reached,
        124.362,
        1e-3,
        &[0.257825, 0.257825],
        1e-5,
    );
    check_adapter!(
        JennrichSampson::new(i.clone(), Vector2::zeros()),
        Vector2::new(0.2, 0.3),
        |x: &Vector2<f64>| jennrich_sampson(x, &i)
    );
}

#[test]
fn shapes_that_do_not_fit_stop_the_solver() {
    // v has 14 entries where the body needs as many as u (15): `residuals()` is `None`, which
    // levenberg-marquardt reports as a failed evaluation instead of a panic.
    let bad = Bard::new(
        DVector::zeros(15),
        DVector::zeros(14),
        DVector::zeros(15),
        DVector::zeros(15),
        Vector3::zeros(),
    );
    assert!(bad.residuals().is_none());
    assert!(bad.jacobian().is_none());
}
