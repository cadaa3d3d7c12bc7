use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

// View bounds must be constants: the gradient's block cannot move with the variable.
#[gradient(wrt = (x, p))]
fn f(x: &DMatrix<f64>, p: &DVector<f64>) -> f64 {
    x.column(p[0] as usize).sum() + x.view((0, 0), (2, 2)).determinant()
}

fn main() {}
