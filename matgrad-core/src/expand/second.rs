//! With `hessian`: `<name>_hvp(.., v)`, the Hessian applied to a direction without forming the
//! Hessian, and `<name>_hessian(..)`, the Hessian of the variables' stacked vecs.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ext::IdentExt;

use super::{
    as_variable, gradient_types, shape_checks, shared_attrs, signature, tuple_type, tuple_value,
};
use crate::emit::Emitter;
use crate::front::types::TypeKind;
use crate::front::Function;
use crate::ir::{NodeId, Op};
use crate::{Derivation, Second};

pub fn items(d: &Derivation, second: &Second) -> TokenStream {
    let f = &d.function;
    let g = &d.body.graph;
    let item = &f.item;
    let vis = &item.vis;
    let name = &item.sig.ident;
    let attrs = shared_attrs(item);
    let scalar = &f.scalar;
    let names = d.variable_names();
    let hvp_name = format_ident!("{}_hvp", name);
    let hessian_name = format_ident!("{}_hessian", name);
    let dir = format_ident!("{}", second.dir_name);

    // The direction has the variables' parameter types (a tuple for several).
    let param_types: Vec<&syn::Type> = f.variables.iter().map(|&p| &f.params[p].ty).collect();
    let dir_ty = match param_types.as_slice() {
        [one] => quote!(#one),
        many => quote!((#(#many),*)),
    };
    let out_ty = tuple_type(&gradient_types(f));
    let mut hvp_sig = signature(f, &hvp_name, out_ty);
    hvp_sig.inputs.push(syn::parse_quote!(#dir: #dir_ty));
    let hessian_sig = signature(
        f,
        &hessian_name,
        quote!(::matgrad::nalgebra::OMatrix<#scalar, ::matgrad::nalgebra::Dyn, ::matgrad::nalgebra::Dyn>),
    );

    // Bind each direction leaf's alias, as the emitter reads parameters: a reference.
    let dir_aliases: Vec<TokenStream> = second
        .hvp
        .inputs
        .iter()
        .enumerate()
        .map(|(i, &leaf)| {
            let alias = g.leaf_alias(leaf);
            let by_ref = f.params[f.variables[i]].info.by_ref;
            let part = if f.variables.len() == 1 {
                quote!(#dir)
            } else {
                let k = syn::Index::from(i);
                quote!(#dir.#k)
            };
            if by_ref {
                quote!(let #alias = #part;)
            } else {
                quote!(let #alias = &#part;)
            }
        })
        .collect();

    // _hvp: the forward differential of the gradient, once.
    let hvp_fn = format!("{hvp_name}");
    let mut em = Emitter::new(g, &d.body, f, hvp_fn.clone(), crate::pretty::node_text);
    let outputs: Vec<_> = second.hvp.outputs.iter().flatten().copied().collect();
    let (lets, values) = em.compute(&outputs);
    let mut values = values.into_iter();
    let products: Vec<TokenStream> = f
        .variables
        .iter()
        .zip(&second.hvp.outputs)
        .map(|(&p, o)| {
            let v = if o.is_some() {
                values.next().unwrap_or_default()
            } else {
                TokenStream::new()
            };
            as_variable(&em, f, g, p, *o, v)
        })
        .collect();
    let result = tuple_value(&products);
    let mut code = quote!(#(#dir_aliases)* #lets #result);
    let prelude = em.prelude(&code);
    code = quote!(#prelude #code);
    let hvp_checks = shape_checks(d, &hvp_fn);

    // _hessian: one value where the Hessian has a whole-Jacobian form; otherwise H V for each
    // basis vector V, one column at a time (written only then: it is an emission of its own).
    let hessian_fn = format!("{hessian_name}");
    let hessian_code = match second.whole {
        Some(h) => whole_hessian(d, h, &hessian_fn),
        None => hessian_by_columns(d, second, &outputs, &hessian_fn),
    };
    let hessian_checks = shape_checks(d, &hessian_fn);

    // Docs.
    let dir_shown: Vec<String> = second
        .hvp
        .inputs
        .iter()
        .map(|&n| match g.op(n) {
            Op::Param(k) => g.params[*k].clone(),
            _ => String::new(),
        })
        .collect();
    let hvp_lines: Vec<String> = if names.len() == 1 {
        vec![format!("H {} = {}", dir_shown[0], second.hvp_formulas[0])]
    } else {
        names
            .iter()
            .zip(&second.hvp_formulas)
            .map(|(n, fm)| format!("(H v)_{n} = {fm}"))
            .collect()
    };
    let hvp_text = hvp_lines.join("\n");
    // Issue 18: typeset where there is one variable (the formulas of several are block rows).
    let (hvp_tex, hessian_tex) = match (second.hvp.outputs.as_slice(), second.hvp.inputs.as_slice())
    {
        ([Some(h)], [v]) => {
            let mut shown = names.clone();
            shown.extend(dir_shown.iter().cloned());
            let tex =
                |l: Option<Vec<String>>| l.map(|l| crate::pretty::typeset(&l)).unwrap_or_default();
            (
                tex(crate::pretty::formula_latex(
                    g,
                    *h,
                    &shown,
                    &format!("H {}", dir_shown[0]),
                )),
                tex(crate::pretty::jacobian_formula_latex(
                    g, *h, *v, &shown, "∇²f",
                )),
            )
        }
        _ => (String::new(), String::new()),
    };
    let hvp_doc = format!(
        "The Hessian of [`{name}`] applied to the direction `{dir}` (of the variables' types), without forming the Hessian: the forward differential of the gradient (forward-over-reverse), derived by matgrad:\n\n```text\n{hvp_text}\n```\n\n{hvp_tex}"
    );
    let hessian_text = match &second.hessian_formula {
        Some(h) => format!("∇²f = {h}"),
        None => hvp_text.clone(),
    };
    let how = if second.whole.is_some() {
        "computed as the one matrix expression below"
    } else {
        "computed one Hessian-vector product per column"
    };
    let hessian_doc = format!(
        "The Hessian of [`{name}`]: the symmetric matrix of second derivatives with respect to vec of each variable, stacked in `wrt` order ({}), {how}:\n\n```text\n{hessian_text}\n```\n\n{hessian_tex}",
        names.join(", ")
    );
    let const_name = format_ident!(
        "{}_HESSIAN_FORMULA",
        name.unraw().to_string().to_uppercase()
    );
    let const_text = hessian_text.clone();
    let const_doc = format!(
        "The Hessian formula matgrad derived for [`{name}`]:\n\n```text\n{hessian_text}\n```"
    );
    let panic_on = |checks: &TokenStream| {
        quote! {
            #checks
            if let ::core::result::Result::Err(e) = __mg_shapes {
                ::core::panic!("{}", e);
            }
        }
    };
    let (hvp_panic, hessian_panic) = (panic_on(&hvp_checks), panic_on(&hessian_checks));
    let _ = (&hvp_fn, &scalar);
    let const_literal = super::text_literal(&const_text);
    quote! {
        #(#attrs)*
        #[doc = #const_doc]
        #[allow(dead_code)]
        #vis const #const_name: &str = #const_literal;

        #(#attrs)*
        #[doc = #hvp_doc]
        #[allow(dead_code, unused_variables, unused_mut, unused_parens, non_snake_case, clippy::all)]
        #vis #hvp_sig {
            #hvp_panic
            #code
        }

        #(#attrs)*
        #[doc = #hessian_doc]
        #[allow(dead_code, unused_variables, unused_mut, unused_parens, non_snake_case, clippy::all)]
        #vis #hessian_sig {
            #hessian_panic
            #hessian_code
        }
    }
}

/// The Hessian as one value: the whole Jacobian of the gradient (`Second::whole`).
fn whole_hessian(d: &Derivation, h: NodeId, hessian_fn: &str) -> TokenStream {
    let (f, g, scalar) = (&d.function, &d.body.graph, &d.function.scalar);
    let mut em = Emitter::new(
        g,
        &d.body,
        f,
        hessian_fn.to_string(),
        crate::pretty::node_text,
    );
    let half = em.lit(0.5);
    let (lets, values) = em.compute(&[h]);
    let value = &values[0];
    let code = quote! {
        #lets
        let __mg_w = #value;
        let __mg_n = __mg_w.nrows();
        let __mg_h = ::matgrad::nalgebra::OMatrix::<#scalar, ::matgrad::nalgebra::Dyn, ::matgrad::nalgebra::Dyn>::from_iterator(__mg_n, __mg_n, __mg_w.iter().cloned());
        // Exactly symmetric, as the Hessian of a twice-differentiable function is.
        (&__mg_h + __mg_h.transpose()) * #half
    };
    let prelude = em.prelude(&code);
    quote!(#prelude #code)
}

/// The Hessian one column at a time: the Hessian-vector product `outputs` at each basis
/// vector, the code that does not depend on the direction hoisted out of the loop.
fn hessian_by_columns(
    d: &Derivation,
    second: &Second,
    outputs: &[NodeId],
    hessian_fn: &str,
) -> TokenStream {
    let (f, g, scalar) = (&d.function, &d.body.graph, &d.function.scalar);
    let mut em = Emitter::new(
        g,
        &d.body,
        f,
        hessian_fn.to_string(),
        crate::pretty::node_text,
    );
    let (before, inside, values) = em.compute_looped(outputs, &second.hvp.variant);
    let mut values = values.into_iter();
    let one = em.lit(1.0);
    let zero = em.lit(0.0);
    let half = em.lit(0.5);
    let mut sizes = Vec::new();
    let mut basis = Vec::new();
    let mut writes = Vec::new();
    for (i, (&p, &leaf)) in f.variables.iter().zip(&second.hvp.inputs).enumerate() {
        let var = format_ident!("__mg_p{}", p);
        let alias = g.leaf_alias(leaf);
        let e = format_ident!("__mg_e{}", i);
        let is_matrix = matches!(f.params[p].info.kind, TypeKind::Matrix { .. });
        sizes.push(if is_matrix {
            quote!(#var.len())
        } else {
            quote!(1usize)
        });
        let k = syn::Index::from(i);
        basis.push(if is_matrix {
            quote! {
                let mut #e = ::matgrad::nalgebra::OMatrix::<#scalar, _, _>::zeros_generic(#var.shape_generic().0, #var.shape_generic().1);
                if __mg_col >= __mg_offset[#k] && __mg_col < __mg_offset[#k] + __mg_size[#k] {
                    #e[__mg_col - __mg_offset[#k]] = #one;
                }
                let #alias = &#e;
            }
        } else {
            quote! {
                let #e = if __mg_col == __mg_offset[#k] { #one } else { #zero };
                let #alias = &#e;
            }
        });
        let o = second.hvp.outputs[i];
        if o.is_some() {
            let v = values.next().unwrap_or_default();
            writes.push(if g.ty(o.unwrap_or(leaf)).is_matrix() {
                quote! {
                    for (__mg_r, __mg_x) in #v.iter().enumerate() {
                        __mg_h[(__mg_offset[#k] + __mg_r, __mg_col)] = *__mg_x;
                    }
                }
            } else {
                quote!(__mg_h[(__mg_offset[#k], __mg_col)] = #v;)
            });
        }
    }
    let nvars = f.variables.len();
    let hessian_code = quote! {
        let __mg_size: [usize; #nvars] = [#(#sizes),*];
        let mut __mg_offset = [0usize; #nvars];
        for __mg_i in 1..#nvars {
            __mg_offset[__mg_i] = __mg_offset[__mg_i - 1] + __mg_size[__mg_i - 1];
        }
        let __mg_n: usize = __mg_size.iter().sum();
        #before
        let mut __mg_h = ::matgrad::nalgebra::OMatrix::<#scalar, ::matgrad::nalgebra::Dyn, ::matgrad::nalgebra::Dyn>::zeros(__mg_n, __mg_n);
        for __mg_col in 0..__mg_n {
            #(#basis)*
            #inside
            #(#writes)*
        }
        // Exactly symmetric, as the Hessian of a twice-differentiable function is.
        (&__mg_h + __mg_h.transpose()) * #half
    };
    let prelude = em.prelude(&hessian_code);
    quote!(#prelude #hessian_code)
}

/// `_hvp` and `_hessian` with their signatures and no bodies, beside an error.
pub(super) fn stand_ins(f: &Function) -> TokenStream {
    let item = &f.item;
    let vis = &item.vis;
    let name = &item.sig.ident;
    let scalar = &f.scalar;
    let taken = |n: &str| {
        f.params
            .iter()
            .any(|p| p.name.as_ref().is_some_and(|i| i == n))
    };
    let dir_name = ["v", "dir", "direction"]
        .into_iter()
        .find(|c| !taken(c))
        .unwrap_or("__mg_direction");
    let dir = format_ident!("{}", dir_name);
    let param_types: Vec<&syn::Type> = f.variables.iter().map(|&p| &f.params[p].ty).collect();
    let dir_ty = match param_types.as_slice() {
        [one] => quote!(#one),
        many => quote!((#(#many),*)),
    };
    let mut hvp_sig = signature(
        f,
        &format_ident!("{}_hvp", name),
        tuple_type(&gradient_types(f)),
    );
    hvp_sig.inputs.push(syn::parse_quote!(#dir: #dir_ty));
    let hessian_sig = signature(
        f,
        &format_ident!("{}_hessian", name),
        quote!(::matgrad::nalgebra::OMatrix<#scalar, ::matgrad::nalgebra::Dyn, ::matgrad::nalgebra::Dyn>),
    );
    quote! {
        #[allow(dead_code, unused_variables, clippy::all)]
        #vis #hvp_sig { ::core::unreachable!() }
        #[allow(dead_code, unused_variables, clippy::all)]
        #vis #hessian_sig { ::core::unreachable!() }
    }
}
