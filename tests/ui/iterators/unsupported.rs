use matgrad::gradient;
use matgrad::nalgebra::DVector;

#[gradient(wrt = w)]
fn product(w: &DVector<f64>) -> f64 {
    w.iter().map(|v| v.exp()).product::<f64>()
}

#[gradient(wrt = w)]
fn filtered(w: &DVector<f64>) -> f64 {
    w.iter().filter(|v| **v > 0.0).map(|v| v * v).sum::<f64>()
}

#[gradient(wrt = w)]
fn collected(w: &DVector<f64>) -> f64 {
    let squares: Vec<f64> = w.iter().map(|v| v * v).collect();
    squares[0]
}

fn main() {}
