use matgrad::gradient;
use matgrad::nalgebra::DVector;

#[gradient(wrt = w)]
fn branch(w: &DVector<f64>) -> f64 {
    if w[0] > 0.0 { w.norm() } else { w.norm_squared() }
}

#[gradient(wrt = w)]
fn matching(w: &DVector<f64>, k: usize) -> f64 {
    match k {
        0 => w.norm(),
        _ => w.sum(),
    }
}

#[gradient(wrt = w)]
fn looping(w: &DVector<f64>) -> f64 {
    let mut total = 0.0;
    for i in 0..w.len() {
        total += w[i] * w[i];
    }
    total
}

fn main() {}
