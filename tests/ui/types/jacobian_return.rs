use matgrad::jacobian;
use matgrad::nalgebra::DVector;

#[jacobian(wrt = x)]
fn pairs(x: &DVector<f64>) -> (f64, f64) {
    (x[0], x[1])
}

fn main() {}
