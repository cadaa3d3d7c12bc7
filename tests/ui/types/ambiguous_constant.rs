use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

fn weights(n: usize) -> DMatrix<f64> {
    DMatrix::identity(n, n)
}

#[gradient(wrt = w)]
fn f(w: &DVector<f64>) -> f64 {
    (weights(w.len()) * w).norm_squared()
}

fn main() {}
