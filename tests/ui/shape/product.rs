use matgrad::gradient;
use matgrad::nalgebra::{Matrix2x3, Vector2};

#[gradient(wrt = w)]
fn f(x: &Matrix2x3<f64>, w: &Vector2<f64>) -> f64 {
    (x * w).norm_squared()
}

fn main() {}
