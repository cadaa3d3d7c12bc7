//! `#[differentiable]` helpers across items: the macro a helper defines beside itself, the
//! request a caller makes for a helper it has not read, and the callback that brings the
//! helper's tokens back (`front/helpers.rs` reads them in).
//!
//! ```text
//! #[differentiable] fn se(..) {..}   ⇒  fn se(..) {..}
//!                                       macro_rules! __matgrad_differentiable_se_<hash> {
//!                                           ($cb:path { $($ctx:tt)* }) => { $cb! { $($ctx)* { fn se(..) {..} } } }
//!                                       }
//!                                       pub use __matgrad_differentiable_se_<hash> as add_matgrad_differentiable_to_se;
//! #[gradient] fn f(..) { kernels::se(..) }
//!                                    ⇒  fn f(..) {..}
//!                                       kernels::add_matgrad_differentiable_to_se! {
//!                                           ::matgrad::__derive_with { gradient (attr) (item) (kernels::se) }
//!                                       }
//!                                    ⇒  ::matgrad::__derive_with! { gradient (attr) (item) (kernels::se) { fn se(..) {..} } }
//!                                    ⇒  the companion items, the helper read in
//! ```
//!
//! The macro is `#[macro_export]`ed (so that other crates reach it) under a name made unique by
//! a hash of the helper, and re-exported in the helper's module under the name callers derive
//! from the path they call, so that `kernels::se` in this crate and `dep::kernels::se` in
//! another find it alike. A function on the active path that is not a helper has no such macro,
//! and the compiler says so at the call, in words that are the fix: "cannot find macro
//! `add_matgrad_differentiable_to_loss`".

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::parse::{ParseStream, Parser};

use crate::attr::Macro;
use crate::front::helpers::{macro_path, Helper};

/// The expansion that asks for the helper at `path`: a call of the macro the helper defines,
/// which calls `matgrad::__derive_with` back with the helper's tokens.
pub fn request(
    kind: Macro,
    attr: &TokenStream,
    item: &TokenStream,
    helpers: &[Helper],
    path: &syn::Path,
) -> TokenStream {
    let mac = macro_path(path);
    let kind = format_ident!("{}", kind.name());
    let read = helpers.iter().map(|h| {
        let (p, it) = (&h.path, &h.item);
        quote!((#p) { #it })
    });
    quote! {
        #mac! { ::matgrad::__derive_with { #kind (#attr) (#item) #(#read)* (#path) } }
    }
}

/// The arguments of `__derive_with!`: the attribute, its tokens, the item, and the helpers
/// read so far with the paths their callers use.
pub fn parse_callback(
    input: TokenStream,
) -> syn::Result<(Macro, TokenStream, TokenStream, Vec<Helper>)> {
    let parser = |s: ParseStream| -> syn::Result<(Macro, TokenStream, TokenStream, Vec<Helper>)> {
        let kind: syn::Ident = s.parse()?;
        let kind = match kind.to_string().as_str() {
            "gradient" => Macro::Gradient,
            "jacobian" => Macro::Jacobian,
            _ => {
                return Err(syn::Error::new(
                    kind.span(),
                    "matgrad: unknown attribute in a helper callback",
                ))
            }
        };
        let attr;
        syn::parenthesized!(attr in s);
        let attr: TokenStream = attr.parse()?;
        let item;
        syn::parenthesized!(item in s);
        let item: TokenStream = item.parse()?;
        let mut helpers = Vec::new();
        while !s.is_empty() {
            let path;
            syn::parenthesized!(path in s);
            let path: syn::Path = path.parse()?;
            let body;
            syn::braced!(body in s);
            let item: syn::ItemFn = body.parse()?;
            helpers.push(Helper { path, item });
        }
        Ok((kind, attr, item, helpers))
    };
    parser.parse2(input)
}

/// `#[differentiable] fn name(..)`: the function as written, checked as matgrad would read it,
/// and the macro through which callers read it.
pub fn define(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut out = TokenStream::new();
    if !attr.is_empty() {
        let msg = "#[differentiable] takes no options: write `#[differentiable]`";
        out.extend(syn::Error::new_spanned(&attr, msg).to_compile_error());
    }
    let f: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let msg = format!("#[differentiable] goes on a function: {e}");
            out.extend(syn::Error::new(e.span(), msg).to_compile_error());
            out.extend(item);
            return out;
        }
    };
    if let Some(r) = f.sig.receiver() {
        let msg = "#[differentiable] goes on a free function: callers read its body with their arguments in place of its parameters, which `self` cannot be";
        out.extend(syn::Error::new_spanned(r, msg).to_compile_error());
    }
    out.extend(check(&f));
    let name = &f.sig.ident;
    let unique = format_ident!(
        "__matgrad_differentiable_{}_{:016x}",
        name,
        fnv(&item.to_string())
    );
    let alias = format_ident!("add_matgrad_differentiable_to_{}", name);
    let dollar = proc_macro2::Punct::new('$', proc_macro2::Spacing::Alone);
    out.extend(quote! {
        #f

        #[doc(hidden)]
        #[macro_export]
        macro_rules! #unique {
            (#dollar cb:path { #dollar (#dollar ctx:tt)* }) => {
                #dollar cb! { #dollar (#dollar ctx)* { #f } }
            };
        }

        #[doc(hidden)]
        #[allow(unused_imports)]
        pub use #unique as #alias;
    });
    out
}

/// The helper's body read as a caller would read it, with every scalar and matrix parameter a
/// variable: its mistakes are reported here, at the helper, not at each call.
fn check(f: &syn::ItemFn) -> TokenStream {
    let scalars = crate::front::types::Scalars::of(&f.sig.generics);
    let variables: Vec<&syn::Ident> = f
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(pt) => match (
                &*pt.pat,
                crate::front::types::classify(&pt.ty, &scalars).kind,
            ) {
                (
                    syn::Pat::Ident(pi),
                    crate::front::types::TypeKind::Scalar
                    | crate::front::types::TypeKind::Matrix { .. },
                ) => Some(&pi.ident),
                _ => None,
            },
            _ => None,
        })
        .collect();
    if variables.is_empty() {
        return TokenStream::new();
    }
    let kind = match &f.sig.output {
        syn::ReturnType::Type(_, ty)
            if crate::front::types::classify(ty, &scalars).kind
                == crate::front::types::TypeKind::Scalar =>
        {
            Macro::Gradient
        }
        _ => Macro::Jacobian,
    };
    let attr = quote!(wrt = (#(#variables),*));
    let mut plain = f.clone();
    plain.attrs.clear();
    match crate::derive_with_helpers(kind, attr, quote!(#plain), &[]) {
        Err(crate::Stop::Failed(failure)) => failure.0.to_compile_error(),
        // A helper that calls helpers is checked where it is called, with them read in.
        Ok(_) | Err(crate::Stop::NeedsHelper(_)) => TokenStream::new(),
    }
}

/// FNV-1a: a stable hash, so that the macro's name is the same in every build.
fn fnv(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
