use matgrad::gradient;
use matgrad::nalgebra::DVector;

// After an update, a `break` inside a block that does more than leave.
#[gradient(wrt = w)]
fn early(w: &DVector<f64>, stop: usize) -> f64 {
    let mut x = w.clone();
    let mut count = 0;
    for i in 0..100 {
        x = &x * 0.5;
        if i == stop {
            count += 1;
            break;
        }
    }
    x.norm_squared() + count as f64
}

fn main() {}
