//! The items the attributes add beside the function: for `#[gradient]`, `<name>_grad`,
//! `<name>_value_and_grad`, their `try_` variants and `<NAME>_GRAD_FORMULA` (`gradient.rs`), and
//! with `hessian`, `<name>_hvp` and `<name>_hessian` (`second.rs`); for `#[jacobian]`,
//! `<name>_jacobian` and `<name>_value_and_jacobian` (`jacobian.rs`). With `minimize`, the
//! closed-form minimiser `<name>_argmin` (`minimize.rs`); with `argmin = Name` or
//! `least_squares = Name`, a struct for a solver crate (`argmin.rs`, `least_squares.rs`, sharing
//! `adapter.rs`).

mod adapter;
mod argmin;
mod gradient;
pub(crate) mod helper;
mod jacobian;
mod least_squares;
mod minimize;
pub(crate) mod model;
mod second;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::{ItemFn, ReturnType, Type};

use crate::attr::{Macro, Options};
use crate::emit::{same_type, Emitter};
use crate::front::types::TypeKind;
use crate::front::Function;
use crate::ir::{Graph, NodeId};
use crate::shape::{Dim, Ty};
use crate::{Derivation, Derived};

/// Everything the attribute expands to, for a function that was derived and validated.
/// `with_function`: the function as written comes first (a caller that read helpers in a later
/// round of expansion has emitted it already).
pub fn items(d: &Derivation, with_function: bool) -> TokenStream {
    let (f, options, solvers) = (&d.function, &d.options, &d.solvers);
    let mut out = TokenStream::new();
    if with_function {
        let item = &f.item;
        out.extend(quote!(#item));
    }
    out.extend(match &d.derived {
        Derived::Gradient(gr) => {
            let mut out = gradient::items(d, gr);
            // With `minimize` alone too: `_argmin` builds the Hessian with `_hessian`.
            if let Some(second) = &gr.second {
                out.extend(second::items(d, second));
            }
            if let Some(m) = &solvers.minimize {
                out.extend(minimize::items(d, gr, m));
            }
            out
        }
        Derived::Jacobian(lin) => jacobian::items(d, lin),
    });
    if let (Some(a), Some(s)) = (&options.argmin, &solvers.argmin) {
        out.extend(argmin::items(options.kind, f, options, a, s));
    }
    if let (Some(a), Some(ls)) = (&options.least_squares, &solvers.least_squares) {
        out.extend(least_squares::items(f, a, ls));
    }
    out
}

/// A value of variable `p` (a gradient, a Hessian-vector product) as the variable's own type:
/// zero where `node` is `None`, converted where the computed type differs (a `DMatrix` with one
/// column for a `DVector`).
pub(super) fn as_variable(
    em: &Emitter,
    f: &Function,
    g: &Graph,
    p: usize,
    node: Option<NodeId>,
    value: TokenStream,
) -> TokenStream {
    let alias = format_ident!("__mg_p{}", p);
    let s = &f.scalar;
    match (node, &f.params[p].info.kind) {
        (None, TypeKind::Matrix { .. }) => {
            quote!(::matgrad::nalgebra::OMatrix::<#s, _, _>::zeros_generic(#alias.shape_generic().0, #alias.shape_generic().1))
        }
        (None, _) => em.lit(0.0),
        (Some(n), TypeKind::Matrix { rows, cols }) if !same_type(g.ty(n), *rows, *cols) => {
            quote!(::matgrad::__private::conform(#value, #alias.shape_generic()))
        }
        (Some(_), _) => value,
    }
}

/// A string as a raw string literal (`r#"∂f/∂w = 2 xᵀ(x w − y)"#`): rustdoc shows a constant's
/// value as its literal is written, and an ordinary string literal made by a macro reaches it
/// with every non-ASCII character escaped (`"\u{2202}f/\u{2202}w"`).
pub(super) fn text_literal(text: &str) -> TokenStream {
    let mut hashes = String::from("#");
    while text.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    format!("r{hashes}\"{text}\"{hashes}")
        .parse()
        .unwrap_or_else(|_| quote!(#text))
}

/// Attributes of the user's function that the generated functions should share.
pub(super) fn shared_attrs(item: &ItemFn) -> Vec<&syn::Attribute> {
    item.attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg") || a.path().is_ident("cfg_attr"))
        .collect()
}

/// The types of the gradients: each variable's owned type.
pub(super) fn gradient_types(f: &Function) -> Vec<Type> {
    f.variables
        .iter()
        .map(|&i| f.params[i].info.owned.clone())
        .collect()
}

pub(super) fn tuple_type(types: &[Type]) -> TokenStream {
    match types {
        [one] => quote!(#one),
        many => quote!((#(#many),*)),
    }
}

pub(super) fn tuple_value(values: &[TokenStream]) -> TokenStream {
    match values {
        [one] => one.clone(),
        many => quote!((#(#many),*)),
    }
}

/// A signature like the user's, renamed and returning `output`.
pub(super) fn signature(f: &Function, name: &syn::Ident, output: TokenStream) -> syn::Signature {
    let mut sig = f.item.sig.clone();
    sig.ident = name.clone();
    sig.constness = None;
    sig.output = ReturnType::Type(Default::default(), Box::new(Type::Verbatim(output)));
    sig
}

/// The dimension equalities the body requires of the parameters (inferred while lowering it),
/// checked on entry: a statement binding `__mg_shapes: Result<(), ::matgrad::ShapeError>`.
pub(super) fn shape_checks(d: &Derivation, fn_name: &str) -> TokenStream {
    let f = &d.function;
    let g = &d.body.graph;
    // Each dynamic axis of a matrix parameter, with the class of dimensions it belongs to.
    let mut axes = Vec::new();
    for (i, p) in f.params.iter().enumerate() {
        let (Some(name), Some(node)) = (&p.name, d.body.param_nodes[i]) else {
            continue;
        };
        let Ty::Matrix(shape) = g.ty(node) else {
            continue;
        };
        for (dim, axis, method) in [
            (shape.rows, "row", quote!(nrows)),
            (shape.cols, "column", quote!(ncols)),
        ] {
            if let Dim::Dyn(v) = dim {
                axes.push((
                    g.dims.find(v),
                    name.to_string(),
                    axis,
                    quote!(#name.#method()),
                ));
            }
        }
    }
    let mut checks = TokenStream::new();
    for (k, (class, name, axis, size)) in axes.iter().enumerate() {
        let a = quote!((#name, #size, #axis));
        if let Some(n) = g.dims.known(Dim::Dyn(*class)) {
            checks.extend(quote! {
                if #size != #n {
                    break 'check (::core::result::Result::Err(::matgrad::ShapeError::fixed(#fn_name, #a, #n)));
                }
            });
            continue;
        }
        // Compare with the first axis of the same class.
        if let Some((_, first, first_axis, first_size)) = axes[..k].iter().find(|x| x.0 == *class) {
            let b = quote!((#first, #first_size, #first_axis));
            checks.extend(quote! {
                if #size != #first_size {
                    break 'check (::core::result::Result::Err(::matgrad::ShapeError::mismatch(#fn_name, #b, #a)));
                }
            });
        }
    }
    quote! {
        let __mg_shapes: ::core::result::Result<(), ::matgrad::ShapeError> =
            'check: { #checks ::core::result::Result::Ok(()) };
    }
}

/// Gradient functions with the right signatures and no body, emitted beside the errors of a
/// function that could not be differentiated, so that its callers compile and the user sees
/// only the errors that matter.
pub fn stand_ins(kind: Macro, f: &Function, options: Option<&Options>) -> TokenStream {
    let mut out = match kind {
        Macro::Jacobian => jacobian::stand_ins(f, options.map_or(Default::default(), |o| o.layout)),
        Macro::Gradient => gradient_stand_ins(f),
    };
    if f.variables.is_empty() {
        return out;
    }
    let Some(options) = options else {
        return out;
    };
    // What the options add: the second derivatives, `_argmin`, and the solver adapters, whose
    // structs are real (they call the stand-ins), so that code using them reports nothing more.
    if kind == Macro::Gradient && (options.hessian.is_some() || options.minimize.is_some()) {
        out.extend(second::stand_ins(f));
    }
    if kind == Macro::Gradient && options.minimize.is_some() {
        out.extend(minimize::stand_ins(f));
    }
    if let Some(a) = &options.argmin {
        out.extend(argmin::stand_in(kind, f, options, a));
    }
    if let (Macro::Jacobian, Some(a)) = (kind, &options.least_squares) {
        out.extend(least_squares::stand_in(f, options, a));
    }
    out
}

/// `_grad`, `_value_and_grad`, their `try_` variants and the formula constant, without bodies.
fn gradient_stand_ins(f: &Function) -> TokenStream {
    if f.variables.is_empty() {
        return TokenStream::new();
    }
    let item = &f.item;
    let vis = &item.vis;
    let name = &item.sig.ident;
    let scalar = &f.scalar;
    let grad_name = format_ident!("{}_grad", name);
    let vg_name = format_ident!("{}_value_and_grad", name);
    let const_name = format_ident!("{}_GRAD_FORMULA", name.unraw().to_string().to_uppercase());
    let derivation_name = format_ident!("{}_DERIVATION", name.unraw().to_string().to_uppercase());
    let grad_ty = tuple_type(&gradient_types(f));
    let grad_sig = signature(f, &grad_name, grad_ty.clone());
    let vg_sig = signature(f, &vg_name, quote!((#scalar, #grad_ty)));
    let try_grad_sig = signature(
        f,
        &format_ident!("try_{}", grad_name),
        quote!(::core::result::Result<#grad_ty, ::matgrad::ShapeError>),
    );
    let try_vg_sig = signature(
        f,
        &format_ident!("try_{}", vg_name),
        quote!(::core::result::Result<(#scalar, #grad_ty), ::matgrad::ShapeError>),
    );
    quote! {
        #[allow(dead_code, unused_variables, clippy::all)]
        #vis #try_grad_sig { ::core::unreachable!() }
        #[allow(dead_code, unused_variables, clippy::all)]
        #vis #try_vg_sig { ::core::unreachable!() }
        #[allow(dead_code)]
        #vis const #const_name: &str = "";
        #[allow(dead_code)]
        #vis const #derivation_name: &str = "";
        #[allow(dead_code, unused_variables, clippy::all)]
        #vis #grad_sig { ::core::unreachable!() }
        #[allow(dead_code, unused_variables, clippy::all)]
        #vis #vg_sig { ::core::unreachable!() }
    }
}
