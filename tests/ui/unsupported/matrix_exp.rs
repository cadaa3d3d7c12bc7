use matgrad::gradient;
use matgrad::nalgebra::DMatrix;

#[gradient(wrt = x)]
fn f(x: &DMatrix<f64>) -> f64 {
    x.exp().sum()
}

fn main() {}
