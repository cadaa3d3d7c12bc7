//! `minimize` in a nalgebra 0.34 crate: `<name>_argmin` against the normal equations solved
//! another way, and against L-BFGS on the same objective through the `argmin` adapter.

use argmin::core::{Executor, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use matgrad::gradient;
use matgrad_integrations::{noise, relative_error};
use nalgebra::{DMatrix, DVector};

/// Ridge regression: (xᵀx + λI) w = xᵀy.
#[gradient(wrt = w, minimize, argmin = Ridge)]
fn ridge(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>, lambda: f64) -> f64 {
    (x * w - y).norm_squared() + lambda * w.norm_squared()
}

fn data() -> (DMatrix<f64>, DVector<f64>) {
    let x = DMatrix::from_fn(30, 6, |i, j| noise((i * 6 + j) as u64));
    let y = DVector::from_fn(30, |i, _| noise(1000 + i as u64));
    (x, y)
}

#[test]
fn ridge_argmin_solves_the_normal_equations() {
    let (x, y) = data();
    let lambda = 0.5;
    let w = ridge_argmin(&x, &y, lambda);
    // QR of the stacked system [x; √λ I] w ≈ [y; 0]: the same minimiser without forming xᵀx.
    let mut stacked = DMatrix::zeros(36, 6);
    stacked.view_mut((0, 0), (30, 6)).copy_from(&x);
    stacked.view_mut((30, 0), (6, 6)).fill_with_identity();
    stacked.view_mut((30, 0), (6, 6)).scale_mut(lambda.sqrt());
    let mut rhs = DVector::zeros(36);
    rhs.rows_mut(0, 30).copy_from(&y);
    let qr = stacked.qr();
    let want = qr
        .r()
        .solve_upper_triangular(&(qr.q().transpose() * rhs))
        .unwrap();
    assert!(relative_error(&w, &want) < 1e-12, "{w} vs {want}");
}

#[test]
fn ridge_argmin_agrees_with_lbfgs() {
    let (x, y) = data();
    let lambda = 0.5;
    let closed = ridge_argmin(&x, &y, lambda);
    let lbfgs = LBFGS::new(MoreThuenteLineSearch::new(), 7)
        .with_tolerance_grad(1e-12)
        .unwrap();
    let res = Executor::new(Ridge::new(x.clone(), y.clone(), lambda), lbfgs)
        .configure(|s| s.param(DVector::zeros(6)).max_iters(200))
        .run()
        .unwrap();
    let iterative = res.state.get_best_param().unwrap();
    assert!(relative_error(iterative, &closed) < 1e-8);
    // Both are the minimiser, to rounding: the closed form's objective is no higher but for it.
    let (at_closed, at_iterative) = (
        ridge(&x, &closed, &y, lambda),
        ridge(&x, iterative, &y, lambda),
    );
    assert!(
        at_closed <= at_iterative * (1.0 + 1e-13),
        "{at_closed} vs {at_iterative}"
    );
}
