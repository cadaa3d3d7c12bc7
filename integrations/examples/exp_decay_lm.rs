//! Fit y ≈ a·exp(−k t) with levenberg-marquardt, twice: with the Jacobian matgrad derives
//! (`#[jacobian(wrt = p, least_squares = ExpFit)]`) and with the crate's numerical
//! differentiation (`differentiate_numerically`), comparing evaluations, residual and time.
//!
//! cargo run --release --manifest-path integrations/Cargo.toml --example exp_decay_lm

use std::time::Instant;

use levenberg_marquardt::{differentiate_numerically, LeastSquaresProblem, LevenbergMarquardt};
use matgrad::jacobian;
use matgrad_integrations::noise;
use nalgebra::{DVector, Dyn, Owned, Vector2};

/// Residuals a·exp(−k t) − y of an exponential decay, p = (a, k).
#[jacobian(wrt = p, least_squares = ExpFit)]
fn residuals(p: &Vector2<f64>, t: &DVector<f64>, y: &DVector<f64>) -> DVector<f64> {
    (t * -p[1]).map(|v| v.exp()) * p[0] - y
}

/// The same problem with its Jacobian by finite differences, as levenberg-marquardt's docs
/// suggest for checking (or when no Jacobian is at hand).
#[derive(Clone)]
struct NumericalFit {
    t: DVector<f64>,
    y: DVector<f64>,
    p: Vector2<f64>,
}

impl LeastSquaresProblem<f64, Dyn, nalgebra::U2> for NumericalFit {
    type ResidualStorage = Owned<f64, Dyn>;
    type JacobianStorage = Owned<f64, Dyn, nalgebra::U2>;
    type ParameterStorage = Owned<f64, nalgebra::U2>;

    fn set_params(&mut self, p: &Vector2<f64>) {
        self.p = *p;
    }
    fn params(&self) -> Vector2<f64> {
        self.p
    }
    fn residuals(&self) -> Option<DVector<f64>> {
        Some(residuals(&self.p, &self.t, &self.y))
    }
    fn jacobian(&self) -> Option<nalgebra::OMatrix<f64, Dyn, nalgebra::U2>> {
        differentiate_numerically(&mut self.clone())
    }
}

fn main() {
    // 50 observations of 3·exp(−0.8 t) with ±2% (deterministic) noise.
    let t = DVector::from_fn(50, |i, _| i as f64 * 0.1);
    let y = DVector::from_fn(50, |i, _| {
        3.0 * (-0.8 * t[i]).exp() * (1.0 + 0.02 * noise(i as u64))
    });
    let start = Vector2::new(1.0, 0.1);
    let runs = 200;

    println!("Jacobian matgrad derived:\n{RESIDUALS_JACOBIAN_FORMULA}\n");

    let clock = Instant::now();
    let mut derived = None;
    for _ in 0..runs {
        derived =
            Some(LevenbergMarquardt::new().minimize(ExpFit::new(t.clone(), y.clone(), start)));
    }
    let derived_time = clock.elapsed() / runs;
    let (fit, report) = derived.unwrap();

    let clock = Instant::now();
    let mut numerical = None;
    for _ in 0..runs {
        let problem = NumericalFit {
            t: t.clone(),
            y: y.clone(),
            p: start,
        };
        numerical = Some(LevenbergMarquardt::new().minimize(problem));
    }
    let numerical_time = clock.elapsed() / runs;
    let (nfit, nreport) = numerical.unwrap();

    println!(
        "{:<26} {:>12} {:>12} {:>16} {:>12}",
        "", "a", "k", "½‖r‖²", "evaluations"
    );
    for (name, p, r) in [
        ("matgrad Jacobian", fit.params(), &report),
        ("differentiate_numerically", nfit.params(), &nreport),
    ] {
        println!(
            "{name:<26} {:>12.8} {:>12.8} {:>16.10e} {:>12}",
            p[0], p[1], r.objective_function, r.number_of_evaluations
        );
    }
    println!(
        "time per fit: {derived_time:?} with matgrad's Jacobian, {numerical_time:?} with numerical differentiation ({:.1}×)",
        numerical_time.as_secs_f64() / derived_time.as_secs_f64()
    );
}
