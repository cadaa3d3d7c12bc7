use matgrad::jacobian;
use matgrad::nalgebra::{Matrix3, Vector2, Vector3};

// A static shape conflict is matgrad's one error: the body is not compiled again, so nalgebra's
// trait errors about the same mistake do not follow, and the function and its Jacobian keep their
// signatures, so that the calls in `main` report nothing more.
#[jacobian(wrt = x)]
fn residuals(a: &Matrix3<f64>, x: &Vector2<f64>) -> Vector3<f64> {
    a * x
}

fn main() {
    let a = Matrix3::zeros();
    let x = Vector2::zeros();
    let r: Vector3<f64> = residuals(&a, &x);
    let j = residuals_jacobian(&a, &x);
    let _ = (r, j);
}
