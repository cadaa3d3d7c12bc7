use matgrad::differentiable;
use matgrad::nalgebra::DVector;

// A helper whose body matgrad cannot read is reported at the helper, not at each call.
#[differentiable]
fn peak(v: &DVector<f64>) -> f64 {
    v.amax()
}

#[differentiable]
fn spread(v: &DVector<f64>, scale: f64) -> f64 {
    v.iter().map(|x| x * scale).product::<f64>()
}

fn main() {
    let _ = peak(&DVector::from_vec(vec![1.0])) + spread(&DVector::from_vec(vec![1.0]), 2.0);
}
