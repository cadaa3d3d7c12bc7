use matgrad::gradient;
use matgrad::nalgebra::DVector;

macro_rules! square {
    ($e:expr) => {
        $e.norm_squared()
    };
}

#[gradient(wrt = w)]
fn f(w: &DVector<f64>) -> f64 {
    square!(w)
}

fn main() {}
