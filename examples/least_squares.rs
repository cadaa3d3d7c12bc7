//! Fit a linear least-squares model with the gradient matgrad derives at compile time.
//!
//! Run with `cargo run --example least_squares`. It prints the derived formula, checks the
//! generated gradient against central finite differences, fits the coefficients by accelerated
//! gradient descent, and compares them with the normal-equations solution w = (XᵀX)⁻¹Xᵀy.

use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

/// The squared residual of a linear model, ‖X w − y‖².
#[gradient(wrt = w)]
pub fn least_squares(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (x * w - y).norm_squared()
}

/// A small built-in data set: 40 observations of an intercept and three features, with
/// responses from known coefficients plus a deterministic disturbance.
fn data() -> (DMatrix<f64>, DVector<f64>) {
    let n = 40;
    let x = DMatrix::from_fn(n, 4, |i, j| {
        let t = i as f64 / n as f64;
        match j {
            0 => 1.0,
            1 => t,
            2 => (3.0 * t).sin(),
            _ => (5.0 * t + 1.0).cos(),
        }
    });
    let truth = DVector::from_vec(vec![0.5, -2.0, 1.5, 0.75]);
    let noise = DVector::from_fn(n, |i, _| 0.05 * ((i * 7919 % 101) as f64 / 50.0 - 1.0));
    let y = &x * truth + noise;
    (x, y)
}

fn main() {
    let (x, y) = data();
    println!("derived by #[gradient]: {LEAST_SQUARES_GRAD_FORMULA}\n");

    // The generated gradient against central finite differences at a test point.
    let w0 = DVector::from_vec(vec![0.3, -0.1, 0.8, 0.2]);
    let report = matgrad::check::gradient(
        |w: &DVector<f64>| least_squares(&x, w, &y),
        |w: &DVector<f64>| least_squares_grad(&x, w, &y),
        &w0,
    );
    println!("{report}\n");
    assert!(report.passed());

    // Nesterov's accelerated gradient descent with step 1/L, where L = 2 λmax(XᵀX) is the
    // Lipschitz constant of the gradient.
    let xtx = x.transpose() * &x;
    let lipschitz = 2.0 * xtx.symmetric_eigenvalues().max();
    let (mut w, mut previous) = (DVector::zeros(4), DVector::zeros(4));
    let mut iterations = 0;
    loop {
        iterations += 1;
        let momentum = (iterations as f64 - 1.0) / (iterations as f64 + 2.0);
        let look_ahead = &w + (&w - &previous) * momentum;
        let (loss, g) = least_squares_value_and_grad(&x, &look_ahead, &y);
        previous = w;
        w = look_ahead - g / lipschitz;
        if least_squares_grad(&x, &w, &y).norm() < 1e-10 || iterations == 100_000 {
            println!("accelerated gradient descent: {iterations} iterations, loss {loss:.6e}");
            break;
        }
    }

    // The normal equations: ∇f = 0  ⇔  XᵀX w = Xᵀy.
    let normal = xtx.try_inverse().expect("XᵀX is invertible") * x.transpose() * &y;
    println!("\n coefficient   gradient descent   normal equations");
    for k in 0..4 {
        println!("   w[{k}]        {:>15.9}   {:>15.9}", w[k], normal[k]);
    }
    println!("\nlargest difference: {:.1e}", (&w - &normal).amax());
}
