//! Newton-CG with matgrad's Hessian-vector product: `#[gradient(wrt = w, hessian, argmin = ..)]`
//! implements argmin's `Hessian` with an operator that applies H by `_hvp` — the forward
//! differential of the gradient — so Newton-CG never forms the Hessian. Newton's method, which
//! needs H⁻¹g, gets it from one factorisation of the Hessian instead.
//!
//! cargo run --manifest-path integrations/Cargo.toml --example newton_cg

use argmin::core::{Executor, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::newton::{Newton, NewtonCG};
use matgrad::gradient;
use matgrad_integrations::noise;
use nalgebra::{DMatrix, DVector};

/// Poisson regression: Σ exp(x w) − yᵀ(x w) + λ‖w‖².
#[gradient(wrt = w, hessian, argmin = Poisson)]
fn poisson(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>, lambda: f64) -> f64 {
    let z = x * w;
    z.map(|v| v.exp()).sum() - y.dot(&z) + lambda * w.norm_squared()
}

fn main() {
    let (n, d) = (300, 30);
    let x = DMatrix::from_fn(n, d, |i, j| 0.3 * noise((i * d + j) as u64));
    let y = DVector::from_fn(n, |i, _| {
        ((i % 5) as f64 + noise(100_000 + i as u64)).max(0.0)
    });
    let lambda = 0.5;
    println!("{POISSON_HESSIAN_FORMULA}\n");

    let res = Executor::new(
        Poisson::new(x.clone(), y.clone(), lambda),
        NewtonCG::<_, f64>::new(MoreThuenteLineSearch::new()),
    )
    .configure(|s| s.param(DVector::zeros(d)).max_iters(30))
    .run()
    .unwrap();
    let w = res.state.get_best_param().unwrap();
    // argmin's inner CG compares the squared residual rᵀr with its forcing term, so its steps
    // are inexact near the optimum and the last digits come slowly (see tests/it/argmin_solvers.rs).
    println!(
        "Newton-CG: {} iterations, |∇f| = {:.2e}, calls {:?}",
        res.state.get_iter(),
        poisson_grad(&x, w, &y, lambda).norm(),
        res.problem.counts
    );

    let res = Executor::new(
        Poisson::new(x.clone(), y.clone(), lambda),
        Newton::<f64>::new(),
    )
    .configure(|s| s.param(DVector::zeros(d)).max_iters(8))
    .run()
    .unwrap();
    let w_newton = res.state.get_param().unwrap();
    println!(
        "Newton:    {} iterations, |∇f| = {:.2e} (each step factorises the {d}×{d} Hessian once)",
        res.state.get_iter(),
        poisson_grad(&x, w_newton, &y, lambda).norm()
    );
    println!(
        "f = {:.10} (Newton-CG), {:.10} (Newton); |w_newton_cg − w_newton| = {:.2e}",
        poisson(&x, w, &y, lambda),
        poisson(&x, w_newton, &y, lambda),
        (w - w_newton).norm()
    );
}
