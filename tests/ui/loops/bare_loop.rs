use matgrad::gradient;
use matgrad::nalgebra::DVector;

// `loop` with a `break` on a constant: its trip count is not known when it starts.
#[gradient(wrt = w)]
fn repeat(w: &DVector<f64>, n: usize) -> f64 {
    let mut x = w.clone();
    let mut k = 0;
    loop {
        if k == n {
            break;
        }
        x = &x * 0.5;
        k += 1;
    }
    x.norm_squared()
}

fn main() {}
