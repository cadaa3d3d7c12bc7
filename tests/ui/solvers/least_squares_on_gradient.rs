use matgrad::gradient;
use matgrad::nalgebra::DVector;

#[gradient(wrt = p, least_squares = Fit)]
fn loss(p: &DVector<f64>, y: &DVector<f64>) -> f64 {
    (p - y).norm_squared()
}

fn main() {}
