//! # matgrad
//!
//! Exact gradients of matrix functions, derived symbolically at compile time.
//!
//! Annotate an ordinary function of nalgebra matrices with `#[gradient(wrt = x)]`; the macro
//! reads its body, derives the gradient with the matrix differential method
//! (d(XY) = dX·Y + X·dY, d(X⁻¹) = −X⁻¹·dX·X⁻¹, d det X = det X · tr(X⁻¹dX), and
//! df = tr(Gᵀ dX) ⇒ ∂f/∂X = G), and emits a companion function computing it with nalgebra.
//!
//! ```
//! use matgrad::gradient;
//! use matgrad::nalgebra::{DMatrix, DVector};
//!
//! /// Squared residual of a linear model.
//! #[gradient(wrt = w)]
//! pub fn least_squares(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
//!     (x * w - y).norm_squared()
//! }
//!
//! let x = DMatrix::from_row_slice(3, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
//! let w = DVector::from_vec(vec![0.5, -1.0]);
//! let y = DVector::from_vec(vec![1.0, 0.0, 2.0]);
//!
//! let g = least_squares_grad(&x, &w, &y);
//! assert!((g - 2.0 * x.transpose() * (&x * &w - &y)).norm() < 1e-12);
//!
//! let (value, g2) = least_squares_value_and_grad(&x, &w, &y);
//! assert_eq!(value, least_squares(&x, &w, &y));
//! assert_eq!(LEAST_SQUARES_GRAD_FORMULA, "∂f/∂w = 2 xᵀ(x w − y)");
//! # let _ = g2;
//! ```
//!
//! The attribute keeps the function as written and adds, with the same visibility and
//! parameters:
//! - `<name>_grad(..)`: the gradient, with the type of the variable (a tuple for several);
//! - `<name>_value_and_grad(..)`: the value and the gradient, computed together;
//! - `<NAME>_GRAD_FORMULA: &str`: the derived formula, also shown in the docs.

pub use matgrad_macros::{gradient, jacobian};
mod adapters;
pub mod check;
mod nalgebra_selection;
mod runtime;
mod shape_error;
mod solve;
mod solve_error;

pub use nalgebra_selection::nalgebra;
pub use shape_error::ShapeError;
pub use solve_error::SolveError;

/// Support for generated code. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::adapters::*;
    pub use crate::runtime::*;
    pub use crate::solve::SymmetricFactor;
}
