//! Logistic regression with argmin's L-BFGS on `#[gradient(wrt = w, argmin = Logistic)]`: the
//! generated struct answers argmin's cost and gradient calls, one `value_and_grad` per point.
//!
//! cargo run --manifest-path integrations/Cargo.toml --example logistic_lbfgs

use argmin::core::{Executor, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use matgrad::gradient;
use matgrad_integrations::noise;
use nalgebra::{DMatrix, DVector};

/// Negative log-likelihood of logistic regression with an L2 penalty, labels y ∈ {0, 1}:
/// Σ ln(1 + exp(x w)) − yᵀ(x w) + λ‖w‖².
#[gradient(wrt = w, argmin = Logistic)]
fn logistic(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>, lambda: f64) -> f64 {
    let z = x * w;
    z.map(|v| v.max(0.0) + (-v.abs()).exp().ln_1p()).sum() - y.dot(&z) + lambda * w.norm_squared()
}

fn main() {
    let (n, d) = (500, 8);
    let x = DMatrix::from_fn(n, d, |i, j| noise((i * d + j) as u64));
    let truth = DVector::from_fn(d, |j, _| 1.0 - j as f64 * 0.3);
    let y = DVector::from_fn(n, |i, _| {
        let e = noise(100_000 + i as u64);
        f64::from((x.row(i) * &truth)[0] + e > 0.0)
    });
    println!("gradient matgrad derived:\n{LOGISTIC_GRAD_FORMULA}\n");

    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 7)
        .with_tolerance_grad(1e-8)
        .unwrap();
    let res = Executor::new(Logistic::new(x.clone(), y.clone(), 0.1), solver)
        .configure(|s| s.param(DVector::zeros(d)).max_iters(100))
        .run()
        .unwrap();
    let w = res.state.get_best_param().unwrap();
    let correct = (0..n)
        .filter(|&i| ((x.row(i) * w)[0] > 0.0) == (y[i] > 0.5))
        .count();
    let calls = res.problem.counts["cost_count"] + res.problem.counts["gradient_count"];
    let evaluations = res.problem.problem.as_ref().unwrap().evaluations();
    println!(
        "w = {:.4?}, loss {:.6}",
        w.as_slice(),
        logistic(&x, w, &y, 0.1)
    );
    println!(
        "{} iterations, |∇f| = {:.1e}, training accuracy {:.1}%",
        res.state.get_iter(),
        logistic_grad(&x, w, &y, 0.1).norm(),
        100.0 * correct as f64 / n as f64
    );
    println!(
        "argmin asked for {calls} costs and gradients; the cache answered them with {evaluations} evaluations of value_and_grad"
    );
}
