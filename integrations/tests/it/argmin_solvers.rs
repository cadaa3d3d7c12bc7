//! `argmin = Name` with argmin's solvers: every trait method of the generated structs against
//! central differences, and L-BFGS, Newton, Newton-CG and Gauss-Newton runs reaching a point
//! where the gradient vanishes (or the known answer), with the evaluations the cache saves.

use argmin::core::{CostFunction, Executor, Gradient, Hessian, Jacobian, Operator, State};
use argmin::solver::gaussnewton::GaussNewton;
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::newton::{Newton, NewtonCG};
use argmin::solver::quasinewton::LBFGS;
use argmin_math::{ArgminDot, ArgminInv};
use matgrad::{gradient, jacobian};
use matgrad_integrations::{central_jacobian, noise, relative_error};
use nalgebra::{DMatrix, DVector};

/// L2-regularised logistic regression: Σ softplus(x w) − yᵀ(x w) + λ‖w‖², labels y ∈ {0, 1}.
/// softplus(v) = ln(1 + eᵛ) is written in the overflow-safe form max(v, 0) + ln(1 + e^−|v|),
/// which matgrad reads as the smooth function it is: at w = 0, where solvers start and every
/// entry is at the two kinks of that form, the gradient and Hessian still carry σ(0) = ½ and
/// σ′(0) = ¼.
#[gradient(wrt = w, hessian, argmin = Logistic)]
fn logistic(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>, lambda: f64) -> f64 {
    let z = x * w;
    z.map(|v| v.max(0.0) + (-v.abs()).exp().ln_1p()).sum() - y.dot(&z) + lambda * w.norm_squared()
}

/// The best rank-k approximation W Wᵀ of a symmetric matrix a, over W (n×k): a matrix variable.
#[gradient(wrt = w, argmin = LowRank)]
fn low_rank(a: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    (a - w * w.transpose()).norm_squared()
}

/// Exponential decay residuals p₀ exp(−p₁ t) − y, for Gauss-Newton.
#[jacobian(wrt = p, argmin = ExpDecay)]
fn exp_decay(p: &DVector<f64>, t: &DVector<f64>, y: &DVector<f64>) -> DVector<f64> {
    (t * -p[1]).map(|v| v.exp()) * p[0] - y
}

/// Deterministic, irregular data: a design matrix and labels that are not separable.
fn classification(n: usize, d: usize) -> (DMatrix<f64>, DVector<f64>) {
    let x = DMatrix::from_fn(n, d, |i, j| noise((i * d + j) as u64));
    let truth = DVector::from_fn(d, |j, _| 1.0 - j as f64 * 0.4);
    let y = DVector::from_fn(n, |i, _| {
        let e = noise(10_000 + i as u64) * 0.8;
        if (x.row(i) * &truth)[0] + e > 0.0 {
            1.0
        } else {
            0.0
        }
    });
    (x, y)
}

fn central_gradient(f: impl Fn(&DVector<f64>) -> f64, w: &DVector<f64>) -> DVector<f64> {
    let j = central_jacobian(w, |w| nalgebra::Vector1::new(f(w)));
    j.row(0).transpose()
}

#[test]
fn logistic_adapter_methods_agree_with_finite_differences() {
    let (x, y) = classification(40, 4);
    let lambda = 0.1;
    let problem = Logistic::new(x.clone(), y.clone(), lambda);
    let w = DVector::from_column_slice(&[0.3, -0.2, 0.5, 0.1]);
    let v = DVector::from_column_slice(&[1.0, 0.5, -0.25, 2.0]);

    let cost = problem.cost(&w).unwrap();
    assert_eq!(cost, logistic(&x, &w, &y, lambda));
    let g = problem.gradient(&w).unwrap();
    let fd = central_gradient(|w| logistic(&x, w, &y, lambda), &w);
    assert!(relative_error(&g, &fd) < 1e-7, "gradient {g} vs {fd}");

    // H v against differences of the gradient along v.
    let h = problem.hessian(&w).unwrap();
    let hv = h.dot(&v);
    let step = 1e-5;
    let grad = |w: &DVector<f64>| logistic_grad(&x, w, &y, lambda);
    let fd_hv = (grad(&(&w + &v * step)) - grad(&(&w - &v * step))) / (2.0 * step);
    assert!(relative_error(&hv, &fd_hv) < 1e-7, "H v {hv} vs {fd_hv}");

    // inv(): H⁻¹ g by a solve, undone by H.
    let h_inv = h.inv().unwrap();
    let step_newton = h_inv.dot(&g);
    assert!(relative_error(&h.dot(&step_newton), &g) < 1e-10);
    assert!(relative_error(&h_inv.inv().unwrap().dot(&v), &hv) < 1e-12);
}

#[test]
fn the_cache_answers_cost_then_gradient_at_one_point() {
    let (x, y) = classification(20, 3);
    let problem = Logistic::new(x, y, 0.1);
    let (w1, w2) = (DVector::from_element(3, 0.1), DVector::from_element(3, 0.2));
    problem.cost(&w1).unwrap();
    problem.gradient(&w1).unwrap();
    assert_eq!(problem.evaluations(), 1);
    problem.gradient(&w2).unwrap();
    problem.cost(&w2).unwrap();
    problem.cost(&w1).unwrap();
    assert_eq!(problem.evaluations(), 3);
    // A shape that does not fit is an argmin error, not a panic.
    assert!(problem.cost(&DVector::zeros(4)).is_err());
}

/// L-BFGS, Newton and Newton-CG reach the same minimiser, where the gradient vanishes.
#[test]
fn lbfgs_newton_and_newton_cg_agree_on_logistic_regression() {
    let (x, y) = classification(200, 5);
    let lambda = 0.05;
    let w0 = DVector::zeros(5);

    let lbfgs = LBFGS::new(MoreThuenteLineSearch::new(), 7)
        .with_tolerance_grad(1e-10)
        .unwrap();
    let res = Executor::new(Logistic::new(x.clone(), y.clone(), lambda), lbfgs)
        .configure(|s| s.param(w0.clone()).max_iters(200))
        .run()
        .unwrap();
    let w_lbfgs = res.state.get_best_param().unwrap().clone();
    let calls = res.problem.counts["cost_count"] + res.problem.counts["gradient_count"];
    let evaluations = res.problem.problem.as_ref().unwrap().evaluations() as u64;
    println!(
        "L-BFGS: {} iterations, {calls} cost + gradient calls, {evaluations} value_and_grad evaluations",
        res.state.get_iter()
    );
    assert!(evaluations < calls, "the cache saved nothing");

    let res = Executor::new(
        Logistic::new(x.clone(), y.clone(), lambda),
        Newton::<f64>::new(),
    )
    .configure(|s| s.param(w0.clone()).max_iters(20))
    .run()
    .unwrap();
    let w_newton = res.state.get_param().unwrap().clone();

    let res = Executor::new(
        Logistic::new(x.clone(), y.clone(), lambda),
        NewtonCG::<_, f64>::new(MoreThuenteLineSearch::new()),
    )
    .configure(|s| s.param(w0.clone()).max_iters(50))
    .run()
    .unwrap();
    let w_ncg = res.state.get_best_param().unwrap().clone();
    println!(
        "Newton-CG: {} iterations, {:?}, {:?}",
        res.state.get_iter(),
        res.state.get_termination_reason(),
        res.problem.counts
    );

    for (name, w) in [
        ("L-BFGS", &w_lbfgs),
        ("Newton", &w_newton),
        ("Newton-CG", &w_ncg),
    ] {
        let g = logistic_grad(&x, w, &y, lambda);
        println!("{name}: w = {:?}, |∇f| = {:.1e}", w.as_slice(), g.norm());
    }
    let grad_norm = |w: &DVector<f64>| logistic_grad(&x, w, &y, lambda).norm();
    assert!(grad_norm(&w_lbfgs) < 1e-6);
    assert!(grad_norm(&w_newton) < 1e-12);
    assert!(relative_error(&w_lbfgs, &w_newton) < 1e-8);
    // argmin 0.11's Newton-CG stops its inner CG when the *squared* residual rᵀr falls below
    // min(½, √|g|)|g| (its `ConjugateGradient` reports rᵀr as the cost), which near the optimum
    // accepts inexact steps: the gradient falls from 86 to ~1e-2 in five iterations, then
    // progress is slow. So Newton-CG is held to the minimum's value and to 1e-5 in w.
    assert!(grad_norm(&w_ncg) < 1e-3 * grad_norm(&w0));
    let f = |w: &DVector<f64>| logistic(&x, w, &y, lambda);
    assert!(
        f(&w_ncg) - f(&w_newton) < 1e-9,
        "{} vs {}",
        f(&w_ncg),
        f(&w_newton)
    );
    assert!(relative_error(&w_ncg, &w_newton) < 1e-5);
}

/// L-BFGS over a `DMatrix`: min ‖A − W Wᵀ‖² for a symmetric positive semidefinite A has the
/// minimum Σ_{i>k} λᵢ² over A's eigenvalues beyond the k largest (Eckart–Young).
#[test]
fn lbfgs_on_a_matrix_variable_reaches_the_eckart_young_minimum() {
    let (n, k) = (6, 2);
    let b = DMatrix::from_fn(n, n, |i, j| ((i * j) as f64 * 0.7 + i as f64).cos());
    let a = &b * b.transpose();
    let w0 = DMatrix::from_fn(n, k, |i, j| 0.1 * ((i + 2 * j) as f64).cos());

    let problem = LowRank::new(a.clone());
    let g = problem.gradient(&w0).unwrap();
    let vec_w0 = DVector::from_column_slice(w0.as_slice());
    let fd = central_gradient(
        |w| low_rank(&a, &DMatrix::from_column_slice(n, k, w.as_slice())),
        &vec_w0,
    );
    assert!(relative_error(&DVector::from_column_slice(g.as_slice()), &fd) < 1e-7);

    let lbfgs = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-10)
        .unwrap()
        .with_tolerance_cost(1e-15)
        .unwrap();
    let res = Executor::new(problem, lbfgs)
        .configure(|s| s.param(w0).max_iters(500))
        .run()
        .unwrap();
    let mut eigenvalues: Vec<f64> = a.symmetric_eigenvalues().iter().copied().collect();
    eigenvalues.sort_by(|p, q| q.total_cmp(p));
    let want: f64 = eigenvalues[k..].iter().map(|l| l * l).sum();
    let got = res.state.get_best_cost();
    println!("low rank: ‖A − W Wᵀ‖² = {got}, Eckart–Young minimum {want}");
    assert!(
        (got - want).abs() <= 1e-8 * want.max(1.0),
        "{got} vs {want}"
    );
}

#[test]
fn gauss_newton_recovers_exponential_decay_parameters() {
    let truth = DVector::from_column_slice(&[2.5, 0.7]);
    let t = DVector::from_fn(12, |i, _| i as f64 * 0.5);
    let y = (&t * -truth[1]).map(f64::exp) * truth[0];

    // Operator and Jacobian against the function and central differences.
    let problem = ExpDecay::new(t.clone(), y.clone());
    let p = DVector::from_column_slice(&[2.0, 0.5]);
    assert_eq!(problem.apply(&p).unwrap(), exp_decay(&p, &t, &y));
    let j = problem.jacobian(&p).unwrap();
    let fd = central_jacobian(&p, |p| exp_decay(p, &t, &y));
    assert!(relative_error(&j, &fd) < 1e-7);
    assert_eq!(problem.evaluations(), 1);

    let res = Executor::new(problem, GaussNewton::<f64>::new())
        .configure(|s| s.param(p).max_iters(30))
        .run()
        .unwrap();
    let got = res.state.get_best_param().unwrap();
    println!(
        "Gauss-Newton: {:?} after {} iterations",
        got.as_slice(),
        res.state.get_iter()
    );
    assert!(relative_error(got, &truth) < 1e-8, "{got}");
}
