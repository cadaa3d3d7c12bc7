//! The front end: the annotated function read into parameters, variables and an expression graph.

mod lower;
pub mod types;

pub use lower::{lower, Body, Stmt};

use proc_macro2::TokenStream;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

use crate::attr::Options;
use crate::ctxt::Ctxt;
use types::{classify, Scalars, TypeInfo, TypeKind};

/// A parameter of the user's function.
#[derive(Clone, Debug)]
pub struct Param {
    /// Its name, if its pattern is a plain identifier.
    pub name: Option<Ident>,
    pub ty: Type,
    pub info: TypeInfo,
    pub is_variable: bool,
}

/// The function as the later phases need it.
pub struct Function {
    pub item: ItemFn,
    pub params: Vec<Param>,
    /// The variables, as indices into `params`, in `wrt` order.
    pub variables: Vec<usize>,
    /// The scalar type of the result (`f64`).
    pub scalar: Type,
    /// Which type names are scalars in this function.
    pub scalars: Scalars,
}

const VARIABLE_TYPES: &str =
    "a variable must be `f64`, `DMatrix<f64>`, `DVector<f64>` or `RowDVector<f64>` (or a static nalgebra matrix or vector), by value or by `&`";

/// Read the item. Returns `None` only if it is not a function at all.
pub fn parse(item: TokenStream, options: Option<&Options>, cx: &mut Ctxt) -> Option<Function> {
    let item: ItemFn = match syn::parse2(item) {
        Ok(f) => f,
        Err(e) => {
            cx.push(syn::Error::new(
                e.span(),
                "#[gradient] goes on a free function (`fn name(..) -> f64 { .. }`)",
            ));
            return None;
        }
    };
    if let Some(a) = &item.sig.asyncness {
        cx.error_spanned_by(a, "#[gradient] cannot differentiate an `async fn`");
    }
    let scalars = Scalars::of(&item.sig.generics);
    let mut params = Vec::new();
    for input in &item.sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                cx.error_spanned_by(
                    r,
                    "#[gradient] goes on free functions, not methods: take the value as a parameter instead of `self`",
                );
            }
            FnArg::Typed(pt) => {
                let name = match &*pt.pat {
                    Pat::Ident(pi) if pi.subpat.is_none() => Some(pi.ident.clone()),
                    _ => None,
                };
                params.push(Param {
                    name,
                    ty: (*pt.ty).clone(),
                    info: classify(&pt.ty, &scalars),
                    is_variable: false,
                });
            }
        }
    }

    let mut variables = Vec::new();
    if let Some(options) = options {
        for var in &options.wrt {
            match params.iter().position(|p| p.name.as_ref() == Some(var)) {
                Some(i) => {
                    variables.push(i);
                    let p = &mut params[i];
                    if p.info.kind == TypeKind::Other {
                        // Reported here; the body is then read as if it were a constant, so
                        // that this one mistake does not cause a cascade of others.
                        let ty = &p.ty;
                        let text = crate::pretty::source_text(&quote::quote!(#ty))
                            .replace(" < ", "<")
                            .replace(" <", "<")
                            .replace("< ", "<")
                            .replace(" >", ">");
                        cx.error_spanned_by(
                            ty,
                            format!("matgrad cannot differentiate with respect to `{var}` of type `{text}`: {VARIABLE_TYPES}"),
                        );
                    } else {
                        p.is_variable = true;
                    }
                }
                None => {
                    let names: Vec<String> = params
                        .iter()
                        .filter_map(|p| p.name.as_ref().map(|n| format!("`{n}`")))
                        .collect();
                    let list = if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    };
                    cx.error_spanned_by(
                        var,
                        format!("`{var}` is not a parameter of `{}`: `wrt` must name parameters (here: {list})", item.sig.ident),
                    );
                }
            }
        }
    }

    let scalar = match &item.sig.output {
        ReturnType::Type(_, ty) if scalars.is_scalar(ty) => (**ty).clone(),
        ReturnType::Type(_, ty) => {
            cx.error_spanned_by(
                ty,
                "#[gradient] needs a function that returns a scalar (`f64`): a gradient is the derivative of a scalar",
            );
            syn::parse_quote!(f64)
        }
        ReturnType::Default => {
            cx.error_spanned_by(
                &item.sig,
                "#[gradient] needs a function that returns a scalar: add `-> f64`",
            );
            syn::parse_quote!(f64)
        }
    };
    Some(Function {
        item,
        params,
        variables,
        scalar,
        scalars,
    })
}
