//! The `#[gradient]` and `#[jacobian]` attributes of [matgrad](https://docs.rs/matgrad): a thin
//! shell, all the work is in `matgrad-core`. Use them through the `matgrad` crate
//! (`matgrad::gradient`, `matgrad::jacobian`), whose code the expansions call.

use proc_macro::TokenStream;

#[doc = include_str!("gradient.md")]
#[proc_macro_attribute]
pub fn gradient(attr: TokenStream, item: TokenStream) -> TokenStream {
    matgrad_core::expand_gradient(attr.into(), item.into()).into()
}

#[doc = include_str!("jacobian.md")]
#[proc_macro_attribute]
pub fn jacobian(attr: TokenStream, item: TokenStream) -> TokenStream {
    matgrad_core::expand_jacobian(attr.into(), item.into()).into()
}

/// Make a helper function callable on the path from a variable of any `#[gradient]`,
/// `#[jacobian]` or `#[differentiable]` function, in this crate or another.
///
/// ```
/// use matgrad::{differentiable, gradient};
/// use matgrad::nalgebra::DVector;
///
/// mod kernels {
///     use matgrad::differentiable;
///     use matgrad::nalgebra::DVector;
///
///     /// The squared-exponential kernel of two points.
///     #[differentiable]
///     pub fn se(a: &DVector<f64>, b: &DVector<f64>, ell: f64) -> f64 {
///         (-(a - b).norm_squared() / (2.0 * ell * ell)).exp()
///     }
/// }
///
/// #[gradient(wrt = x)]
/// fn similarity(x: &DVector<f64>, y: &DVector<f64>) -> f64 {
///     kernels::se(x, y, 0.5) + kernels::se(x, &(2.0 * y), 2.0)
/// }
///
/// let (x, y) = (DVector::from_vec(vec![0.2, -0.1]), DVector::from_vec(vec![0.1, 0.3]));
/// let k = kernels::se(&x, &y, 0.5);
/// let k2 = kernels::se(&x, &(2.0 * &y), 2.0);
/// let want = -(&x - &y) * (k / 0.25) - (&x - 2.0 * &y) * (k2 / 4.0);
/// assert!((similarity_grad(&x, &y) - want).norm() < 1e-12);
/// ```
///
/// The helper is a function of scalars, vectors and matrices with a scalar, vector or matrix
/// value; any of its arguments may depend on the caller's variables, it may be called several
/// times, and helpers may call helpers. Callers read its body where they call it, with their
/// arguments in place of its parameters (the helper is inlined symbolically), so that second
/// derivatives and Jacobians flow through it and the caller's formula is one formula. Names
/// that the helper's body uses in constant code (a type, a constant) must be visible where it
/// is called, as with any macro: write them with full paths. A helper whose body matgrad cannot
/// read is reported here, at the helper. A function that is not `#[differentiable]`, called on
/// the path from a variable, is a compile error at the call: the compiler cannot find
/// `add_matgrad_differentiable_to_<name>`, the macro this attribute would have defined, a name
/// chosen so that the error says the fix.
#[proc_macro_attribute]
pub fn differentiable(attr: TokenStream, item: TokenStream) -> TokenStream {
    matgrad_core::expand_differentiable(attr.into(), item.into()).into()
}

/// Expansion again, with the helpers a function calls read in. Called back by the macros that
/// `#[differentiable]` defines; not for users.
#[doc(hidden)]
#[proc_macro]
pub fn __derive_with(input: TokenStream) -> TokenStream {
    matgrad_core::expand_callback(input.into()).into()
}

/// On an `impl` block: argmin's problem traits (`CostFunction`, `Gradient`, and with `hessian`
/// `Hessian`) for the block's type, from its method marked `#[gradient(wrt = w, argmin)]`
/// (cargo features `argmin` and `nalgebra-0_34`). A method's own attribute cannot implement a
/// trait for its type: it sits inside the block and does not see the type.
///
/// ```ignore
/// #[matgrad::model]
/// impl Ridge {
///     #[gradient(wrt = w, argmin)]
///     fn loss(&self, w: &DVector<f64>) -> f64 {
///         (&self.x * w - &self.y).norm_squared() + self.lambda * w.norm_squared()
///     }
/// }
/// // Executor::new(ridge, LBFGS::new(..)) then solves it.
/// ```
///
/// The method takes `&self` and the variable only (the solver passes nothing else). `cost` calls
/// `try_<name>_value_and_grad` and `gradient` calls `try_<name>_grad`: they do not share work,
/// since the traits take `&self` and the type has no room for a cache; the struct that
/// `argmin = Name` generates around a free function keeps one.
#[proc_macro_attribute]
pub fn model(attr: TokenStream, item: TokenStream) -> TokenStream {
    matgrad_core::expand_model(attr.into(), item.into()).into()
}
