use matgrad::gradient;
use matgrad::nalgebra::DVector;

// A `while` loop: its number of iterations is not known when it starts.
#[gradient(wrt = w)]
fn halve(w: &DVector<f64>) -> f64 {
    let mut x = w.clone();
    let mut k = 0;
    while k < 10 {
        x = &x * 0.5;
        k += 1;
    }
    x.norm_squared()
}

fn main() {}
