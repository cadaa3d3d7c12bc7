use matgrad::gradient;
use matgrad::nalgebra::DVector;

// The pairs of `zip` taken whole: matgrad reads a closure entry by entry.
#[gradient(wrt = a)]
fn pair_by_one_name(a: &DVector<f64>, b: &DVector<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|p| p.0 * p.1).sum::<f64>()
}

// The closure of `zip_map` takes an entry of each matrix.
#[gradient(wrt = a)]
fn one_argument(a: &DVector<f64>, b: &DVector<f64>) -> f64 {
    a.zip_map(b, |u| u * 2.0).sum()
}

// A function of matgrad's vocabulary is read by its path; others are not.
#[gradient(wrt = a)]
fn unknown_function(a: &DVector<f64>) -> f64 {
    a.map(f64::cbrt).sum()
}

fn main() {}
