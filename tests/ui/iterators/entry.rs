use matgrad::gradient;
use matgrad::nalgebra::DVector;

// A method matgrad does not read, on an entry of a constant: generated code has whole matrices,
// not entries, so matgrad cannot copy it; the message says to compute it before the closure.
#[gradient(wrt = a)]
fn weighted(a: &DVector<f64>, l: &DVector<f64>) -> f64 {
    a.iter()
        .zip(l.iter())
        .map(|(&u, &m)| u * m.clamp(0.0, 1.0))
        .sum::<f64>()
}

fn main() {}
