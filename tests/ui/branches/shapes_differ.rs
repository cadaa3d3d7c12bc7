use matgrad::gradient;
use matgrad::nalgebra::{Matrix2x3, Vector3};

// The two branches of an `if` must have one shape.
#[gradient(wrt = w)]
fn f(w: &Vector3<f64>, a: &Matrix2x3<f64>, r: f64) -> f64 {
    let z = if w.norm() > r { a * w } else { w.clone() };
    z.norm_squared()
}

// And one kind: a scalar and a vector are not the same value.
#[gradient(wrt = w)]
fn g(w: &Vector3<f64>, r: f64) -> f64 {
    let z = if w.norm() > r { w.norm() } else { w.clone() };
    z.sum()
}

fn main() {}
