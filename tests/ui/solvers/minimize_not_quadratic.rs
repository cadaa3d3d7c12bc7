use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

/// Poisson regression: the negative log-likelihood is convex but not quadratic in w.
#[gradient(wrt = w, minimize)]
fn poisson(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let z = x * w;
    z.map(|v| v.exp()).sum() - y.dot(&z)
}

fn main() {
    // `poisson_argmin` exists despite the error, so this reports nothing more.
    let (x, y) = (DMatrix::zeros(2, 2), DVector::zeros(2));
    let _ = poisson_argmin(&x, &y);
}
