//! `#[matgrad::model]` on an `impl` block: argmin's problem traits for the block's type, from its
//! `#[gradient(wrt = w, argmin)]` method. A method's own attribute cannot do it: it sits inside
//! the block and does not see the type.
//!
//! `CostFunction::cost` calls `try_<name>_value_and_grad` and `Gradient::gradient` calls
//! `try_<name>_grad`: they do not share work, since argmin's traits take `&self` and the type has
//! no room for a cache (the struct of `argmin = Name` on a function keeps one). With `hessian`,
//! `Hessian::hessian` is `<name>_hessian`, the matrix.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{ImplItem, ItemImpl};

use crate::attr::{self, Macro};
use crate::ctxt::Ctxt;
use crate::front::types::{classify, Axis, Scalars, TypeKind};

/// The block as written, and the traits of each method with a bare `argmin`.
pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut out = TokenStream::new();
    if !attr.is_empty() {
        let msg = "#[matgrad::model] takes no options: write `#[matgrad::model]`";
        out.extend(syn::Error::new_spanned(&attr, msg).to_compile_error());
    }
    let imp: ItemImpl = match syn::parse2(item.clone()) {
        Ok(i) => i,
        Err(e) => {
            let msg = format!("#[matgrad::model] goes on an `impl` block: {e}");
            out.extend(syn::Error::new(e.span(), msg).to_compile_error());
            out.extend(item);
            return out;
        }
    };
    out.extend(quote!(#imp));
    let mut found = false;
    for it in &imp.items {
        let ImplItem::Fn(f) = it else { continue };
        for a in &f.attrs {
            if a.path()
                .segments
                .last()
                .is_none_or(|s| s.ident != "gradient")
            {
                continue;
            }
            let syn::Meta::List(list) = &a.meta else {
                continue;
            };
            let mut cx = Ctxt::new();
            let options = attr::parse(Macro::Gradient, list.tokens.clone(), &mut cx);
            // The method's own attribute reports its mistakes.
            let _ = cx.check();
            let Some(options) = options.filter(|o| o.argmin_self.is_some()) else {
                continue;
            };
            found = true;
            out.extend(traits(&imp, f, &options));
        }
    }
    if !found {
        let msg = "#[matgrad::model] implements argmin's traits from a method marked `#[gradient(wrt = w, argmin)]`, and this block has none";
        out.extend(syn::Error::new_spanned(&imp.self_ty, msg).to_compile_error());
    }
    out
}

/// `CostFunction`, `Gradient` and (with `hessian`) `Hessian` for the block's type.
fn traits(imp: &ItemImpl, f: &syn::ImplItemFn, options: &attr::Options) -> TokenStream {
    let (Some(var), Some(span)) = (options.wrt.first(), options.argmin_self) else {
        return TokenStream::new();
    };
    let Some((ty, by_ref)) = f.sig.inputs.iter().find_map(|i| match i {
        syn::FnArg::Typed(pt) => match &*pt.pat {
            syn::Pat::Ident(pi) if pi.ident == *var => Some(match &*pt.ty {
                syn::Type::Reference(r) => ((*r.elem).clone(), true),
                other => (other.clone(), false),
            }),
            _ => None,
        },
        _ => None,
    }) else {
        return TokenStream::new();
    };
    let scalar: syn::Type = match &f.sig.output {
        syn::ReturnType::Type(_, t) => (**t).clone(),
        syn::ReturnType::Default => syn::parse_quote!(f64),
    };
    let (impl_generics, _, where_clause) = imp.generics.split_for_impl();
    let self_ty = &imp.self_ty;
    let name = &f.sig.ident;
    let try_vg = format_ident!("try_{}_value_and_grad", name);
    let try_grad = format_ident!("try_{}_grad", name);
    let hessian = format_ident!("{}_hessian", name);
    let point = if by_ref {
        quote!(p)
    } else {
        quote!(::core::clone::Clone::clone(p))
    };
    let am = quote!(::matgrad::__private::argmin::core);
    let mut items = quote! {
        impl #impl_generics #am::CostFunction for #self_ty #where_clause {
            type Param = #ty;
            type Output = #scalar;
            fn cost(&self, p: &#ty) -> ::core::result::Result<#scalar, #am::Error> {
                Self::#try_vg(self, #point).map(|(v, _)| v).map_err(#am::Error::new)
            }
        }
        impl #impl_generics #am::Gradient for #self_ty #where_clause {
            type Param = #ty;
            type Gradient = #ty;
            fn gradient(&self, p: &#ty) -> ::core::result::Result<#ty, #am::Error> {
                Self::#try_grad(self, #point).map_err(#am::Error::new)
            }
        }
    };
    if options.hessian.is_some() {
        // The Hessian of vec(w): n×n for n entries, static where the variable is.
        let scalars = Scalars::default();
        let info = classify(&ty, &scalars);
        let na = quote!(::matgrad::nalgebra);
        let h_ty = match info.kind {
            TypeKind::Matrix {
                rows: Axis::Fixed(r),
                cols: Axis::Fixed(c),
            } => {
                let n = r * c;
                quote!(#na::SMatrix<#scalar, #n, #n>)
            }
            TypeKind::Scalar => quote!(#scalar),
            _ => quote!(#na::DMatrix<#scalar>),
        };
        items.extend(quote! {
            impl #impl_generics #am::Hessian for #self_ty #where_clause {
                type Param = #ty;
                type Hessian = #h_ty;
                fn hessian(&self, p: &#ty) -> ::core::result::Result<#h_ty, #am::Error> {
                    ::core::result::Result::Ok(Self::#hessian(self, #point))
                }
            }
        });
    }
    super::adapter::behind_feature("with_argmin", span, items)
}
