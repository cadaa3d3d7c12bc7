//! # matgrad
//!
//! Exact gradients, Jacobians and Hessians of functions of nalgebra matrices, derived
//! symbolically at compile time.
//!
//! Annotate an ordinary function of nalgebra matrices with [`#[gradient(wrt = x)]`](gradient)
//! (a scalar value) or [`#[jacobian(wrt = p)]`](jacobian) (a vector or matrix value); the macro
//! reads its body, derives the derivative with the matrix differential (d(XY) = dX·Y + X·dY,
//! d(X⁻¹) = −X⁻¹·dX·X⁻¹, d det X = det X · tr(X⁻¹dX), and df = tr(Gᵀ dX) ⇒ ∂f/∂X = G), and emits
//! companion functions that compute it with plain nalgebra: no automatic differentiation at run
//! time, and the derived formula in the generated functions' documentation.
//!
//! matgrad is not yet on crates.io: depend on it by git or by path (see the README).
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
//! # The attributes
//!
//! Each attribute's page documents every option, every generated item with its signature, and
//! the errors, with examples.
//!
//! | attribute and option | adds, beside the function kept as written |
//! |---|---|
//! | [`#[gradient(wrt = x)]`](gradient) | `<name>_grad`, `<name>_value_and_grad`, `try_<name>_grad`, `try_<name>_value_and_grad` (a [`ShapeError`]), `<NAME>_GRAD_FORMULA`, `<NAME>_DERIVATION` (the derivation step by step: the differential df, each term rearranged into tr(Mᵀ dX) by the trace identities, and the read-off) |
//! | [`hessian`](gradient#hessian) | `<name>_hvp` (Hessian-vector product), `<name>_hessian`, `<NAME>_HESSIAN_FORMULA` |
//! | [`minimize`](gradient#minimize) | `<name>_argmin`, `try_<name>_argmin` (a [`SolveError`]): the closed-form minimiser of a quadratic objective |
//! | [`argmin = Name`](gradient#argmin--name) | `struct Name`: the objective as an argmin problem (`CostFunction`, `Gradient`, `Hessian`) |
//! | [`checkpoint`](gradient#options) | for bodies with `for` loops: every ⌈√n⌉-th state stored and the forward pass recomputed by segments for the backward pass, instead of a tape of every iteration |
//! | [`#[jacobian(wrt = p)]`](jacobian) | `<name>_jacobian`, `<name>_value_and_jacobian`, their `try_` variants, `<NAME>_JACOBIAN_FORMULA` |
//! | [`layout = ..`](jacobian#layouts) | the Jacobian in numerator (default), denominator or block layout |
//! | [`argmin = Name`](jacobian#options) | `struct Name`: residuals as an argmin problem (`Operator`, `Jacobian`) |
//! | [`least_squares = Name`](jacobian#least_squares--name) | `struct Name`: a levenberg-marquardt `LeastSquaresProblem` |
//! | [`#[differentiable]`](differentiable) | on a helper function: callable on the path from a variable of any annotated function, read in where it is called |
//!
//! # Glossary
//!
//! - **vec(X)**: the entries of a matrix X stacked column by column into one vector (nalgebra's
//!   storage order). A Jacobian's rows and columns are indexed by vec of the value and of the
//!   variable.
//! - **Numerator layout**: the Jacobian of F with respect to X is ∂vec(F)/∂vec(X)ᵀ, one row per
//!   entry of F and one column per entry of X (m×n for m residuals and n parameters). The default
//!   of `#[jacobian]`, and what least-squares solvers take.
//! - **Denominator layout**: the transpose, one row per entry of X. A gradient is in this layout:
//!   it has the shape of its variable.
//! - **Block layout**: for F p×q and X m×n, the pm×qn matrix whose (i, j) block, of X's shape,
//!   is ∂F_ij/∂X.
//! - **Hessian-vector product**: the Hessian applied to a direction v, H v, computed as the
//!   directional derivative of the gradient without forming H.
//!
//! # Cargo features
//!
//! - `nalgebra-0_35` (default) or `nalgebra-0_34`: which nalgebra [`nalgebra`] re-exports and
//!   generated code names. Exactly one; a crate built on nalgebra 0.34 selects `nalgebra-0_34`
//!   so that its tree holds one nalgebra.
//! - `argmin`: the `argmin = Name` option (needs `nalgebra-0_34`).
//! - `levenberg-marquardt`: the `least_squares = Name` option (needs `nalgebra-0_34`).
//! - `faer` (default): large `f64` inverses, LU solves, determinants, Cholesky factors and
//!   matrix powers of run-time size through faer's kernels (chosen by size at run time; static
//!   shapes and small sizes stay nalgebra), and the one-pass Xᵀ f(Xw) gradients read X once.
//!   Without it, nalgebra everywhere.
//! - `parallel`: the one-pass gradients on a large X split among rayon's threads (off by
//!   default: single-threaded).
//!
//! An option whose feature is off is one compile error at the option, saying which feature to
//! enable.
//!
//! # Errors
//!
//! At compile time, each mistake is one error spanned on the tokens at fault that says how to
//! fix it: an unknown option names the nearest known one, an operation without a derivative rule
//! points at the token and lists what is supported, and static shapes that cannot fit are
//! reported at the operator with both shapes. When a function has an error, its body is not
//! compiled (so the compiler does not report the same mistake again), and the function and every
//! companion item keep their signatures, so that code calling them reports nothing more.
//!
//! At run time, the generated functions check the size equalities the types do not fix and panic
//! naming the parameters and sizes; the `try_` variants return a [`ShapeError`] or a
//! [`SolveError`] instead.
//!
//! # Checking gradients
//!
//! [`check::gradient`] compares any gradient, generated or hand-written, against central finite
//! differences, for use in your own tests.

#[doc(hidden)]
pub use matgrad_macros::__derive_with;
#[doc(inline)]
pub use matgrad_macros::{differentiable, gradient, jacobian, model};
mod adapters;
pub mod check;
#[cfg(feature = "faer")]
#[doc(hidden)]
pub mod kernels;
mod nalgebra_selection;
mod operand;
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
    pub use crate::operand::{Rows, Times, TrTimes};
    pub use crate::runtime::*;
    pub use crate::solve::SymmetricFactor;
}
