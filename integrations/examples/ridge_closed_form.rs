//! Ridge regression in closed form with `#[gradient(wrt = w, minimize)]`: the objective is
//! quadratic in w, so `ridge_argmin` solves ∇f = 0, the normal equations (xᵀx + λI) w = xᵀy, by a
//! Cholesky factorisation — compared with L-BFGS iterating on the same objective.
//!
//! cargo run --manifest-path integrations/Cargo.toml --example ridge_closed_form

use std::time::Instant;

use argmin::core::{Executor, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use matgrad::gradient;
use matgrad_integrations::noise;
use nalgebra::{DMatrix, DVector};

#[gradient(wrt = w, minimize, argmin = Ridge)]
fn ridge(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>, lambda: f64) -> f64 {
    (x * w - y).norm_squared() + lambda * w.norm_squared()
}

fn main() {
    let (n, d, lambda) = (400, 40, 2.0);
    let x = DMatrix::from_fn(n, d, |i, j| noise((i * d + j) as u64));
    let y = DVector::from_fn(n, |i, _| noise(100_000 + i as u64));
    println!("∇f = {RIDGE_GRAD_FORMULA}");
    println!("{RIDGE_HESSIAN_FORMULA}   (constant: ∇f = 0 is a linear system)\n");

    let clock = Instant::now();
    let closed = ridge_argmin(&x, &y, lambda);
    let closed_time = clock.elapsed();

    let clock = Instant::now();
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 7)
        .with_tolerance_grad(1e-10)
        .unwrap();
    let res = Executor::new(Ridge::new(x.clone(), y.clone(), lambda), solver)
        .configure(|s| s.param(DVector::zeros(d)).max_iters(1000))
        .run()
        .unwrap();
    let iterative_time = clock.elapsed();
    let iterative = res.state.get_best_param().unwrap();

    println!(
        "ridge_argmin: f = {:.12}, |∇f| = {:.1e}, {closed_time:?}",
        ridge(&x, &closed, &y, lambda),
        ridge_grad(&x, &closed, &y, lambda).norm()
    );
    println!(
        "L-BFGS:       f = {:.12}, |∇f| = {:.1e}, {iterative_time:?} ({} iterations)",
        ridge(&x, iterative, &y, lambda),
        ridge_grad(&x, iterative, &y, lambda).norm(),
        res.state.get_iter()
    );
    println!(
        "|w_closed − w_lbfgs| = {:.1e}",
        (&closed - iterative).norm()
    );
}
