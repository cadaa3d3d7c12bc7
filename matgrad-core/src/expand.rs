//! The items `#[gradient]` adds beside the function: `<name>_grad`, `<name>_value_and_grad`
//! and the formula constant `<NAME>_GRAD_FORMULA`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{ItemFn, ReturnType, Type};

use crate::emit::{same_type, Emitter};
use crate::front::types::TypeKind;
use crate::front::Function;
use crate::shape::{Dim, Ty};
use crate::Derivation;

/// Attributes of the user's function that the generated functions should share.
fn shared_attrs(item: &ItemFn) -> Vec<&syn::Attribute> {
    item.attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg") || a.path().is_ident("cfg_attr"))
        .collect()
}

/// The types of the gradients: each variable's owned type.
fn gradient_types(f: &Function) -> Vec<Type> {
    f.variables
        .iter()
        .map(|&i| f.params[i].info.owned.clone())
        .collect()
}

fn tuple_type(types: &[Type]) -> TokenStream {
    match types {
        [one] => quote!(#one),
        many => quote!((#(#many),*)),
    }
}

fn tuple_value(values: &[TokenStream]) -> TokenStream {
    match values {
        [one] => one.clone(),
        many => quote!((#(#many),*)),
    }
}

/// A signature like the user's, renamed and returning `output`.
fn signature(f: &Function, name: &syn::Ident, output: TokenStream) -> syn::Signature {
    let mut sig = f.item.sig.clone();
    sig.ident = name.clone();
    sig.constness = None;
    sig.output = ReturnType::Type(Default::default(), Box::new(Type::Verbatim(output)));
    sig
}

pub fn gradient_items(d: &Derivation) -> TokenStream {
    let f = &d.function;
    let item = &f.item;
    let vis = &item.vis;
    let name = &item.sig.ident;
    let attrs = shared_attrs(item);
    let scalar = &f.scalar;
    let grad_name = format_ident!("{}_grad", name);
    let vg_name = format_ident!("{}_value_and_grad", name);
    let const_name = format_ident!("{}_GRAD_FORMULA", name.to_string().to_uppercase());
    let names = d.variable_names();

    let formula_lines: Vec<String> = names
        .iter()
        .zip(&d.formulas)
        .map(|(v, fm)| format!("∂f/∂{v} = {fm}"))
        .collect();
    let formula_text = formula_lines.join("\n");
    let wrt_list = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let doc_formula = {
        let mut s = String::from("```text\n");
        s.push_str(&formula_text);
        s.push_str("\n```");
        s
    };
    let grad_doc = format!(
        "The gradient of [`{name}`] with respect to {wrt_list}, derived by matgrad from its body, where f = `{name}(..)`:\n\n{doc_formula}\n\nEach gradient has the shape and type of its variable (denominator layout)."
    );
    let vg_doc = format!(
        "The value of [`{name}`] and its gradient with respect to {wrt_list}, computed together: the gradient reuses the intermediate values of the function.\n\n{doc_formula}"
    );
    let const_doc = format!("The gradient formula matgrad derived for [`{name}`] (the text shown in the documentation of [`{grad_name}`]).");

    let types = gradient_types(f);
    let grad_ty = tuple_type(&types);
    let grad_sig = signature(f, &grad_name, grad_ty.clone());
    let vg_sig = signature(f, &vg_name, quote!((#scalar, #grad_ty)));

    let grad_body = body(d, &grad_name.to_string(), false);
    let vg_body = body(d, &vg_name.to_string(), true);
    let grad_checks = shape_checks(d, &grad_name.to_string());
    let vg_checks = shape_checks(d, &vg_name.to_string());

    // The `try_` variants return the shape error instead of panicking.
    let try_grad_name = format_ident!("try_{}", grad_name);
    let try_vg_name = format_ident!("try_{}", vg_name);
    let try_grad_sig = signature(
        f,
        &try_grad_name,
        quote!(::core::result::Result<#grad_ty, ::matgrad::ShapeError>),
    );
    let try_vg_sig = signature(
        f,
        &try_vg_name,
        quote!(::core::result::Result<(#scalar, #grad_ty), ::matgrad::ShapeError>),
    );
    let try_doc = |of: &syn::Ident| {
        format!("[`{of}`], with arguments whose shapes do not fit together reported as a [`ShapeError`](::matgrad::ShapeError) instead of a panic.")
    };
    let (try_grad_doc, try_vg_doc) = (try_doc(&grad_name), try_doc(&vg_name));
    let names_of_params: Option<Vec<&syn::Ident>> =
        f.params.iter().map(|p| p.name.as_ref()).collect();
    let (try_grad_body, try_vg_body) = match names_of_params {
        // Forward to the panicking versions once the shapes are known to fit.
        Some(args) => (
            quote!(#grad_checks?; ::core::result::Result::Ok(#grad_name(#(#args),*))),
            quote!(#vg_checks?; ::core::result::Result::Ok(#vg_name(#(#args),*))),
        ),
        None => (
            quote!(#grad_checks?; ::core::result::Result::Ok({ #grad_body })),
            quote!(#vg_checks?; ::core::result::Result::Ok({ #vg_body })),
        ),
    };
    let panic_on = |checks: &TokenStream| {
        quote! {
            if let ::core::result::Result::Err(e) = #checks {
                ::core::panic!("{}", e);
            }
        }
    };
    let (grad_panic, vg_panic) = (panic_on(&grad_checks), panic_on(&vg_checks));

    quote! {
        #item

        #(#attrs)*
        #[doc = #const_doc]
        #vis const #const_name: &str = #formula_text;

        #(#attrs)*
        #[doc = #grad_doc]
        #[allow(unused_variables, unused_mut, unused_parens, non_snake_case, clippy::all)]
        #vis #grad_sig {
            #grad_panic
            #grad_body
        }

        #(#attrs)*
        #[doc = #vg_doc]
        #[allow(unused_variables, unused_mut, unused_parens, non_snake_case, clippy::all)]
        #vis #vg_sig {
            #vg_panic
            #vg_body
        }

        #(#attrs)*
        #[doc = #try_grad_doc]
        #[allow(unused_variables, unused_mut, unused_parens, unreachable_code, non_snake_case, clippy::all)]
        #vis #try_grad_sig {
            #try_grad_body
        }

        #(#attrs)*
        #[doc = #try_vg_doc]
        #[allow(unused_variables, unused_mut, unused_parens, unreachable_code, non_snake_case, clippy::all)]
        #vis #try_vg_sig {
            #try_vg_body
        }
    }
}

/// The statements of a generated function, ending in its return value.
fn body(d: &Derivation, fn_name: &str, with_value: bool) -> TokenStream {
    let f = &d.function;
    let g = &d.body.graph;
    let mut outputs = Vec::new();
    if with_value {
        outputs.push(d.body.output);
    }
    outputs.extend(d.gradients.iter().flatten().copied());
    let mut em = Emitter::new(g, &d.body, f, fn_name.to_string());
    let (lets, values) = em.compute(&outputs);
    let mut values = values.into_iter();
    let value = if with_value { values.next() } else { None };
    let grads: Vec<TokenStream> = f
        .variables
        .iter()
        .zip(&d.gradients)
        .map(|(&p, gr)| {
            let alias = format_ident!("__mg_p{}", p);
            let param = &f.params[p];
            match (gr, &param.info.kind) {
                (None, TypeKind::Matrix { .. }) => {
                    let s = &f.scalar;
                    quote!(::matgrad::nalgebra::OMatrix::<#s, _, _>::zeros_generic(#alias.shape_generic().0, #alias.shape_generic().1))
                }
                (None, _) => em.lit(0.0),
                (Some(n), TypeKind::Matrix { rows, cols }) => {
                    let v = values.next().unwrap_or_default();
                    if same_type(g.ty(*n), *rows, *cols) {
                        v
                    } else {
                        quote!(::matgrad::__private::conform(#v, #alias.shape_generic()))
                    }
                }
                (Some(_), _) => values.next().unwrap_or_default(),
            }
        })
        .collect();
    let grads = tuple_value(&grads);
    let result = match value {
        Some(v) => quote!((#v, #grads)),
        None => grads,
    };
    let mut code = lets;
    code.extend(result);
    let prelude = em.prelude(&code);
    quote!(#prelude #code)
}

/// The dimension equalities the body requires of the parameters (inferred while lowering it),
/// checked on entry: an expression of type `Result<(), ::matgrad::ShapeError>`.
fn shape_checks(d: &Derivation, fn_name: &str) -> TokenStream {
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
                    break 'check ::core::result::Result::Err(::matgrad::ShapeError::fixed(#fn_name, #a, #n));
                }
            });
            continue;
        }
        // Compare with the first axis of the same class.
        if let Some((_, first, first_axis, first_size)) = axes[..k].iter().find(|x| x.0 == *class) {
            let b = quote!((#first, #first_size, #first_axis));
            checks.extend(quote! {
                if #size != #first_size {
                    break 'check ::core::result::Result::Err(::matgrad::ShapeError::mismatch(#fn_name, #b, #a));
                }
            });
        }
    }
    quote!({
        let __mg_shapes: ::core::result::Result<(), ::matgrad::ShapeError> =
            'check: { #checks ::core::result::Result::Ok(()) };
        __mg_shapes
    })
}

/// Gradient functions with the right signatures and no body, emitted beside the errors of a
/// function that could not be differentiated, so that its callers compile and the user sees
/// only the errors that matter.
pub fn stand_ins(f: &Function) -> TokenStream {
    if f.variables.is_empty() {
        return TokenStream::new();
    }
    let item = &f.item;
    let vis = &item.vis;
    let name = &item.sig.ident;
    let scalar = &f.scalar;
    let grad_name = format_ident!("{}_grad", name);
    let vg_name = format_ident!("{}_value_and_grad", name);
    let const_name = format_ident!("{}_GRAD_FORMULA", name.to_string().to_uppercase());
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
        #[allow(unused_variables, clippy::all)]
        #vis #try_grad_sig { ::core::unreachable!() }
        #[allow(unused_variables, clippy::all)]
        #vis #try_vg_sig { ::core::unreachable!() }
        #vis const #const_name: &str = "";
        #[allow(unused_variables, clippy::all)]
        #vis #grad_sig { ::core::unreachable!() }
        #[allow(unused_variables, clippy::all)]
        #vis #vg_sig { ::core::unreachable!() }
    }
}
