//! `<name>_grad`, `<name>_value_and_grad`, their `try_` variants and the formula constant.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ext::IdentExt;

use super::{
    as_variable, gradient_types, shape_checks, shared_attrs, signature, tuple_type, tuple_value,
};
use crate::emit::Emitter;
use crate::{Derivation, Gradient};

pub fn items(d: &Derivation, gr: &Gradient) -> TokenStream {
    let f = &d.function;
    let item = &f.item;
    let vis = &item.vis;
    let name = &item.sig.ident;
    let attrs = shared_attrs(item);
    let scalar = &f.scalar;
    let grad_name = format_ident!("{}_grad", name);
    let vg_name = format_ident!("{}_value_and_grad", name);
    let const_name = format_ident!("{}_GRAD_FORMULA", name.unraw().to_string().to_uppercase());
    let names = d.variable_names();

    let formula_lines: Vec<String> = names
        .iter()
        .zip(&gr.formulas)
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
    // Issue 18: the formula typeset (the text stays where scripts are off), the derivation
    // folded, and both in constants whose own docs show them as text.
    let derivation_name = format_ident!("{}_DERIVATION", name.unraw().to_string().to_uppercase());
    let derivation = crate::explain::text(&d.derivations);
    let doc_formula = format!("{doc_formula}\n\n{}", typeset_gradients(d, gr, &names));
    let derivation_doc = format!("The derivation, step by step, of the gradient of [`{name}`] (also in the documentation of [`{grad_name}`]):\n\n```text\n{derivation}\n```");
    let grad_doc = format!(
        "The gradient of [`{name}`] with respect to {wrt_list}, derived by matgrad from its body, where f = `{name}(..)`:\n\n{doc_formula}\n\nEach gradient has the shape and type of its variable (denominator layout).\n\n{}",
        crate::explain::folded(&derivation)
    );
    let vg_doc = format!(
        "The value of [`{name}`] and its gradient with respect to {wrt_list}, computed together: the gradient reuses the intermediate values of the function.\n\n{doc_formula}"
    );
    let const_doc = format!("The gradient formula matgrad derived for [`{name}`] (the text shown in the documentation of [`{grad_name}`]):\n\n```text\n{formula_text}\n```");

    let types = gradient_types(f);
    let grad_ty = tuple_type(&types);
    let grad_sig = signature(f, &grad_name, grad_ty.clone());
    let vg_sig = signature(f, &vg_name, quote!((#scalar, #grad_ty)));

    let grad_body = body(d, gr, &grad_name.to_string(), false);
    let vg_body = body(d, gr, &vg_name.to_string(), true);
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
        Some(args) => {
            let (grad_path, vg_path) = (f.path_of(&grad_name), f.path_of(&vg_name));
            (
                quote!(#grad_checks __mg_shapes?; ::core::result::Result::Ok(#grad_path(#(#args),*))),
                quote!(#vg_checks __mg_shapes?; ::core::result::Result::Ok(#vg_path(#(#args),*))),
            )
        }
        None => (
            quote!(#grad_checks __mg_shapes?; ::core::result::Result::Ok({ #grad_body })),
            quote!(#vg_checks __mg_shapes?; ::core::result::Result::Ok({ #vg_body })),
        ),
    };
    let panic_on = |checks: &TokenStream| {
        quote! {
            #checks
            if let ::core::result::Result::Err(e) = __mg_shapes {
                ::core::panic!("{}", e);
            }
        }
    };
    let (grad_panic, vg_panic) = (panic_on(&grad_checks), panic_on(&vg_checks));

    let (formula_literal, derivation_literal) = (
        super::text_literal(&formula_text),
        super::text_literal(&derivation),
    );
    quote! {
        #(#attrs)*
        #[doc = #const_doc]
        #[allow(dead_code)]
        #vis const #const_name: &str = #formula_literal;

        #(#attrs)*
        #[doc = #derivation_doc]
        #[allow(dead_code)]
        #vis const #derivation_name: &str = #derivation_literal;

        #(#attrs)*
        #[doc = #grad_doc]
        #[allow(dead_code, unused_variables, unused_mut, unused_parens, non_snake_case, clippy::all)]
        #vis #grad_sig {
            #grad_panic
            #grad_body
        }

        #(#attrs)*
        #[doc = #vg_doc]
        #[allow(dead_code, unused_variables, unused_mut, unused_parens, non_snake_case, clippy::all)]
        #vis #vg_sig {
            #vg_panic
            #vg_body
        }

        #(#attrs)*
        #[doc = #try_grad_doc]
        #[allow(dead_code, unused_variables, unused_mut, unused_parens, unreachable_code, non_snake_case, clippy::all)]
        #vis #try_grad_sig {
            #try_grad_body
        }

        #(#attrs)*
        #[doc = #try_vg_doc]
        #[allow(dead_code, unused_variables, unused_mut, unused_parens, unreachable_code, non_snake_case, clippy::all)]
        #vis #try_vg_sig {
            #try_vg_body
        }
    }
}

/// The statements of a generated function, ending in its return value.
fn body(d: &Derivation, gr: &Gradient, fn_name: &str, with_value: bool) -> TokenStream {
    let f = &d.function;
    let g = &d.body.graph;
    let mut outputs = Vec::new();
    if with_value {
        outputs.push(d.body.output);
    }
    outputs.extend(gr.nodes.iter().flatten().copied());
    let mut em = Emitter::new(g, &d.body, f, fn_name.to_string(), crate::pretty::node_text);
    let (lets, values) = em.compute(&outputs);
    let mut values = values.into_iter();
    let value = if with_value { values.next() } else { None };
    let grads: Vec<TokenStream> = f
        .variables
        .iter()
        .zip(&gr.nodes)
        .map(|(&p, node)| {
            let v = if node.is_some() {
                values.next().unwrap_or_default()
            } else {
                TokenStream::new()
            };
            as_variable(&em, f, g, p, *node, v)
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

/// The gradients' formulas typeset for the docs (`pretty::typeset`).
fn typeset_gradients(d: &Derivation, gr: &Gradient, names: &[String]) -> String {
    let g = &d.body.graph;
    let mut lines = Vec::new();
    for (v, node) in names.iter().zip(&gr.nodes) {
        let lhs = format!("∂f/∂{v}");
        match node {
            Some(n) => match crate::pretty::formula_latex(g, *n, names, &lhs) {
                Some(l) => lines.extend(l),
                None => return String::new(),
            },
            None => lines.push(crate::pretty::zero_latex(&lhs)),
        }
    }
    crate::pretty::typeset(&lines)
}
