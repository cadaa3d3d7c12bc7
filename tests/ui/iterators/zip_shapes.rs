use matgrad::gradient;
use matgrad::nalgebra::{Matrix2x3, Matrix3x2, Vector2, Vector3};

// `zip` stops at the shorter: Rust sums two products here, and matgrad says the shapes differ.
#[gradient(wrt = a)]
fn zipped(a: &Vector2<f64>, b: &Vector3<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(u, v)| u * v).sum::<f64>()
}

#[gradient(wrt = a)]
fn zip_mapped(a: &Matrix2x3<f64>, b: &Matrix3x2<f64>) -> f64 {
    a.zip_map(b, |u, v| u * v).sum()
}

fn main() {}
