//! Solver adapters over functions with loops (issue "Loops"): an ODE's parameters fitted by
//! levenberg-marquardt through the Jacobian of an Euler-integrated trajectory, and argmin's
//! L-BFGS on a recurrence's gradient.

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use levenberg_marquardt::{LeastSquaresProblem, LevenbergMarquardt};
use matgrad::{gradient, jacobian};
use matgrad_integrations::{central_jacobian, relative_error};
use nalgebra::DVector;

/// y′ = −k ⊙ y by 100 explicit Euler steps; the residual is the end point's distance to the
/// observed one.
#[jacobian(wrt = k, least_squares = DecayFit)]
fn decay_fit(k: &DVector<f64>, y0: &DVector<f64>, observed: &DVector<f64>) -> DVector<f64> {
    let dt = 0.01;
    let mut y = y0.clone();
    for _ in 0..100 {
        y -= dt * k.component_mul(&y);
    }
    y - observed
}

#[test]
fn levenberg_marquardt_fits_the_rates_of_an_integrated_ode() {
    let y0 = DVector::from_column_slice(&[1.0, 2.0, 0.5]);
    let truth = DVector::from_column_slice(&[0.7, 1.3, 2.1]);
    let zero = DVector::zeros(3);
    let observed = decay_fit(&truth, &y0, &zero);
    let start = DVector::from_column_slice(&[0.2, 0.2, 0.2]);
    // The adapter's Jacobian is the trajectory's, against central differences.
    let j = decay_fit_jacobian(&start, &y0, &observed);
    let fd = central_jacobian(&start, |k| decay_fit(k, &y0, &observed));
    assert!(relative_error(&j, &fd) < 1e-7, "{j} vs {fd}");
    let problem = DecayFit::new(y0.clone(), observed.clone(), start);
    let (problem, report) = LevenbergMarquardt::new().minimize(problem);
    assert!(
        report.termination.was_successful(),
        "{:?}",
        report.termination
    );
    let k = problem.params();
    assert!(relative_error(&k, &truth) < 1e-8, "{k} vs {truth}");
}

/// A linear recurrence hₜ₊₁ = a hₜ + xₜ with a scalar a, and a target for its end point.
#[gradient(wrt = a, argmin = Recurrence)]
fn recurrence(a: &DVector<f64>, xs: &DVector<f64>, target: f64) -> f64 {
    let mut h = 0.0;
    for t in 0..xs.len() {
        h = a[0] * h + xs[t];
    }
    (h - target) * (h - target)
}

#[test]
fn lbfgs_solves_a_recurrence() {
    let xs = DVector::from_column_slice(&[1.0, 0.5, -0.25, 2.0, 1.0]);
    let target = 3.0;
    let problem = Recurrence::new(xs.clone(), target);
    let a0 = DVector::from_column_slice(&[0.1]);
    let g = problem.gradient(&a0).unwrap();
    let eps = 1e-6;
    let up = recurrence(&DVector::from_column_slice(&[0.1 + eps]), &xs, target);
    let down = recurrence(&DVector::from_column_slice(&[0.1 - eps]), &xs, target);
    assert!((g[0] - (up - down) / (2.0 * eps)).abs() < 1e-6);
    let lbfgs = LBFGS::new(MoreThuenteLineSearch::new(), 5);
    let res = Executor::new(problem, lbfgs)
        .configure(|s| s.param(a0).max_iters(100))
        .run()
        .unwrap();
    let best = res.state().get_best_param().unwrap().clone();
    let cost = Recurrence::new(xs.clone(), target).cost(&best).unwrap();
    assert!(cost < 1e-12, "cost {cost} at {best}");
}
