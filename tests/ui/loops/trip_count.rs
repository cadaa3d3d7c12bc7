use matgrad::gradient;
use matgrad::nalgebra::DVector;

// The number of iterations depends on the variable.
#[gradient(wrt = w)]
fn steps(w: &DVector<f64>) -> f64 {
    let mut x = w.clone();
    for _ in 0..(w.norm() as usize) {
        x = &x * 0.5;
    }
    x.norm_squared()
}

fn main() {}
