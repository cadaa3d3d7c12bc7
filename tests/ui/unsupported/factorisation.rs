use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

// A Cholesky factorisation is read through the methods matgrad differentiates.
#[gradient(wrt = x)]
fn f(x: &DMatrix<f64>, b: &DVector<f64>) -> f64 {
    let chol = x.clone().cholesky().unwrap();
    chol.l_dirty().sum() + chol.solve(b).sum()
}

fn main() {}
