use matgrad::gradient;
use matgrad::nalgebra::DVector;

// An iteration run to convergence: the `break` depends on the variable.
#[gradient(wrt = w)]
fn converge(w: &DVector<f64>) -> f64 {
    let mut x = w.clone();
    for _ in 0..100 {
        if x.norm() < 1e-8 {
            break;
        }
        x = &x * 0.5;
    }
    x.norm_squared()
}

fn main() {}
