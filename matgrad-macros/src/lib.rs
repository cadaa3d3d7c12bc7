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
