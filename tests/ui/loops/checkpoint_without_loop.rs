use matgrad::gradient;
use matgrad::nalgebra::DVector;

#[gradient(wrt = w, checkpoint)]
fn no_loop(w: &DVector<f64>) -> f64 {
    w.norm_squared()
}

fn main() {}
