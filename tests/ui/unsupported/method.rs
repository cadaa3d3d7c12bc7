use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

#[gradient(wrt = x)]
fn f(x: &DMatrix<f64>, b: &DVector<f64>) -> f64 {
    x.clone().qr().solve(b).unwrap().norm()
}

fn main() {}
