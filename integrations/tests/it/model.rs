//! `#[matgrad::model]` on an `impl` block with a `#[gradient(wrt = w, argmin)]` method: argmin's
//! traits for the model type itself, and L-BFGS and Newton on it.

use argmin::core::{CostFunction, Executor, Gradient, Hessian, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::newton::Newton;
use argmin::solver::quasinewton::LBFGS;
use matgrad::gradient;
use matgrad_integrations::noise;
use nalgebra::{DMatrix, DVector};

/// Ridge regression that keeps its data.
struct Ridge {
    x: DMatrix<f64>,
    y: DVector<f64>,
    lambda: f64,
}

#[matgrad::model]
impl Ridge {
    #[gradient(wrt = w, hessian, argmin)]
    fn loss(&self, w: &DVector<f64>) -> f64 {
        (&self.x * w - &self.y).norm_squared() + self.lambda * w.norm_squared()
    }
}

fn ridge() -> Ridge {
    let x = DMatrix::from_fn(30, 4, |i, j| noise((i * 4 + j) as u64));
    let y = DVector::from_fn(30, |i, _| noise(500 + i as u64));
    Ridge { x, y, lambda: 0.3 }
}

/// The normal equations (xᵀx + λI) w = xᵀy.
fn closed_form(m: &Ridge) -> DVector<f64> {
    (m.x.transpose() * &m.x + m.lambda * DMatrix::identity(4, 4))
        .lu()
        .solve(&(m.x.transpose() * &m.y))
        .expect("invertible")
}

#[test]
fn the_model_type_is_the_argmin_problem() {
    let m = ridge();
    let w = DVector::from_vec(vec![0.1, -0.2, 0.3, 0.05]);
    assert_eq!(m.cost(&w).unwrap(), m.loss(&w));
    assert_eq!(m.gradient(&w).unwrap(), m.loss_grad(&w));
    assert_eq!(m.hessian(&w).unwrap(), m.loss_hessian(&w));
    let want = closed_form(&m);
    let lbfgs = LBFGS::new(MoreThuenteLineSearch::new(), 5)
        .with_tolerance_grad(1e-12)
        .unwrap();
    let res = Executor::new(ridge(), lbfgs)
        .configure(|s| s.param(DVector::zeros(4)).max_iters(100))
        .run()
        .unwrap();
    let w_lbfgs = res.state.get_best_param().unwrap().clone();
    assert!((&w_lbfgs - &want).norm() < 1e-8, "{w_lbfgs} vs {want}");
    let res = Executor::new(ridge(), Newton::<f64>::new())
        .configure(|s| s.param(DVector::zeros(4)).max_iters(3))
        .run()
        .unwrap();
    let w_newton = res.state.get_param().unwrap().clone();
    assert!((&w_newton - &want).norm() < 1e-10, "{w_newton} vs {want}");
}
