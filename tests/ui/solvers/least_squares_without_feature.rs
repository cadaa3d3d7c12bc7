use matgrad::jacobian;
use matgrad::nalgebra::DVector;

#[jacobian(wrt = p, least_squares = ExpFit)]
fn residuals(p: &DVector<f64>, t: &DVector<f64>, y: &DVector<f64>) -> DVector<f64> {
    (t * -p[1]).map(|v| v.exp()) * p[0] - y
}

fn main() {
    let (p, t, y) = (DVector::zeros(2), DVector::zeros(3), DVector::zeros(3));
    let _ = residuals_jacobian(&p, &t, &y);
}
