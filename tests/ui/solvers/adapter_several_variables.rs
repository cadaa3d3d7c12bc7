use matgrad::gradient;
use matgrad::nalgebra::DVector;

#[gradient(wrt = (a, b), argmin = Fit)]
fn loss(a: &DVector<f64>, b: &DVector<f64>) -> f64 {
    (a - b).norm_squared()
}

fn main() {}
