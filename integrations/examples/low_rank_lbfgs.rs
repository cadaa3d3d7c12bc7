//! L-BFGS on a matrix variable: the best rank-k approximation W Wᵀ of a symmetric matrix A,
//! min over W (n×k, a `DMatrix`) of ‖A − W Wᵀ‖²_F, against the Eckart–Young minimum (the sum of
//! the squares of A's eigenvalues beyond the k largest, for A positive semidefinite).
//!
//! cargo run --manifest-path integrations/Cargo.toml --example low_rank_lbfgs

use argmin::core::{Executor, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use matgrad::gradient;
use nalgebra::DMatrix;

#[gradient(wrt = w, argmin = LowRank)]
fn low_rank(a: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    (a - w * w.transpose()).norm_squared()
}

fn main() {
    let (n, k) = (20, 3);
    let b = DMatrix::from_fn(n, n, |i, j| ((i * j) as f64 * 0.7 + i as f64).cos());
    let a = &b * b.transpose();
    println!("gradient matgrad derived: {LOW_RANK_GRAD_FORMULA}");

    let w0 = DMatrix::from_fn(n, k, |i, j| 0.1 * ((i + 2 * j) as f64).cos());
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-9)
        .unwrap()
        .with_tolerance_cost(1e-15)
        .unwrap();
    let res = Executor::new(LowRank::new(a.clone()), solver)
        .configure(|s| s.param(w0).max_iters(1000))
        .run()
        .unwrap();

    let mut eigenvalues: Vec<f64> = a.symmetric_eigenvalues().iter().copied().collect();
    eigenvalues.sort_by(|p, q| q.total_cmp(p));
    let eckart_young: f64 = eigenvalues[k..].iter().map(|l| l * l).sum();
    println!(
        "L-BFGS over a {n}×{k} DMatrix: ‖A − W Wᵀ‖² = {:.10} after {} iterations",
        low_rank(&a, res.state.get_best_param().unwrap()),
        res.state.get_iter()
    );
    println!("Eckart–Young minimum:          {eckart_young:.10}");
}
