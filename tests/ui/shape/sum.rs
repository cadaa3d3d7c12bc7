use matgrad::gradient;
use matgrad::nalgebra::{Matrix2, Matrix3, Vector2, Vector3};

#[gradient(wrt = a)]
fn sum(a: &Matrix2<f64>, b: &Matrix3<f64>) -> f64 {
    (a + b).sum()
}

#[gradient(wrt = v)]
fn dot(v: &Vector2<f64>, u: &Vector3<f64>) -> f64 {
    v.dot(u) + v.component_mul(u).sum()
}

fn main() {}
