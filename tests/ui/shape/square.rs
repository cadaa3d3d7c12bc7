use matgrad::gradient;
use matgrad::nalgebra::Matrix2x3;

#[gradient(wrt = x)]
fn f(x: &Matrix2x3<f64>) -> f64 {
    x.trace() + x.determinant()
}

fn main() {}
