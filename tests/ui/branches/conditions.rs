use matgrad::gradient;
use matgrad::nalgebra::DVector;

// A condition on a variable compares values; a method that answers yes or no cannot be read.
#[gradient(wrt = w)]
fn f(w: &DVector<f64>) -> f64 {
    w.map(|v| if v.is_sign_positive() { v } else { -v }).sum()
}

// `match` reads constants; patterns that bind names cannot be read on the active path.
#[gradient(wrt = w)]
fn g(w: &DVector<f64>, scale: Option<f64>) -> f64 {
    match scale {
        Some(s) => s * w.sum(),
        None => w.sum(),
    }
}

// A `match` on a value that depends on the variable.
#[gradient(wrt = w)]
fn h(w: &DVector<f64>) -> f64 {
    match w.len() > 2 && w[0] > 0.0 {
        true => w.sum(),
        false => w.norm(),
    }
}

fn main() {}
