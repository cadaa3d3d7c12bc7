use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

// Every problem in a function is reported in one compile.
#[gradient(wrt = x)]
fn f(x: &DMatrix<f64>, b: &DVector<f64>) -> f64 {
    let a = x.symmetric_part();
    let c = x.clone().svd(true, true).u.unwrap();
    a.sum() + c.sum() + x.amax()
}

fn main() {}
