use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

// Mistakes in the body and in the options are reported together, in one compile: an
// unsupported method and `minimize` on a function whose parameters cannot all be passed by
// name. (The call of `helper`, which might be a `#[differentiable]` helper, is looked up once
// these are fixed: see tests/ui/unsupported/function_call.rs.)
#[gradient(wrt = w, minimize)]
fn loss(x: &DMatrix<f64>, w: &DVector<f64>, _: f64) -> f64 {
    let r = x * w;
    r.amax() + helper(w)
}

fn helper(w: &DVector<f64>) -> f64 {
    w.sum()
}

fn main() {}
