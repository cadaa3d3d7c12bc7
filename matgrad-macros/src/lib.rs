//! The `#[gradient]` attribute. A thin shell: all the work is in `matgrad-core`.

use proc_macro::TokenStream;

/// Derive the gradient of a scalar function of nalgebra matrices at compile time.
///
/// See the `matgrad` crate for the documentation.
#[proc_macro_attribute]
pub fn gradient(attr: TokenStream, item: TokenStream) -> TokenStream {
    matgrad_core::expand_gradient(attr.into(), item.into()).into()
}

/// Derive the Jacobian of a function of nalgebra matrices with a vector or matrix value.
///
/// See the `matgrad` crate for the documentation.
#[proc_macro_attribute]
pub fn jacobian(attr: TokenStream, item: TokenStream) -> TokenStream {
    matgrad_core::expand_jacobian(attr.into(), item.into()).into()
}
