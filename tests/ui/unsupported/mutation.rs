use matgrad::gradient;
use matgrad::nalgebra::DVector;

#[gradient(wrt = w)]
fn f(w: &DVector<f64>) -> f64 {
    let mut r = w * 2.0;
    r[0] += w[1];
    r.norm_squared()
}

fn main() {}
