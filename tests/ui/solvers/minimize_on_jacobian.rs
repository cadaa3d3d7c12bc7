use matgrad::jacobian;
use matgrad::nalgebra::DVector;

#[jacobian(wrt = p, minimize)]
fn residuals(p: &DVector<f64>, y: &DVector<f64>) -> DVector<f64> {
    p - y
}

fn main() {}
