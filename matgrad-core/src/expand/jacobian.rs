//! `#[jacobian]`: `<name>_jacobian`, `<name>_value_and_jacobian`, their `try_` variants and the
//! formula constant.
//!
//! Each Jacobian is filled by sweeps over basis vectors: forward sweeps (one per entry of a
//! variable, the differential dF in the direction Eₖ is column k) or reverse sweeps (one per
//! entry of the result, the adjoints for the cotangent Eᵢ are row i of every Jacobian),
//! whichever count is smaller at run time. What does not depend on the sweep's basis vector
//! (the function's values, derivative factors such as 1 − tanh²) is computed once, before the
//! sweeps. Nothing is ever materialised as I, diag(d) or a Kronecker product.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ext::IdentExt;

use super::{shape_checks, shared_attrs, signature, tuple_type, tuple_value};
use crate::attr::Layout;
use crate::emit::{same_type, Emitter};
use crate::front::types::{Axis, TypeKind};
use crate::front::Function;
use crate::ir::NodeId;
use crate::shape::Dim;
use crate::{Derivation, Jacobian};

/// The Jacobian's type for a variable: static when both shapes are, `DMatrix` otherwise.
fn jacobian_type(f: &Function, p: usize, layout: Layout) -> TokenStream {
    let s = &f.scalar;
    let axes = |k: &TypeKind| match k {
        TypeKind::Matrix {
            rows: Axis::Fixed(r),
            cols: Axis::Fixed(c),
        } => Some((*r, *c)),
        TypeKind::Scalar => Some((1, 1)),
        _ => None,
    };
    match (axes(&f.output.kind), axes(&f.params[p].info.kind)) {
        (Some((p_, q)), Some((m, n))) => {
            let (r, c) = match layout {
                Layout::Numerator => (p_ * q, m * n),
                Layout::Denominator => (m * n, p_ * q),
                Layout::Blocks => (p_ * m, q * n),
            };
            quote!(::matgrad::nalgebra::SMatrix<#s, #r, #c>)
        }
        _ => {
            quote!(::matgrad::nalgebra::OMatrix<#s, ::matgrad::nalgebra::Dyn, ::matgrad::nalgebra::Dyn>)
        }
    }
}

/// A basis vector Eₖ of a value's type, bound to a leaf's alias.
fn basis(
    em: &Emitter,
    alias: &proc_macro2::Ident,
    is_matrix: bool,
    dims: (TokenStream, TokenStream),
    k: TokenStream,
) -> TokenStream {
    let one = em.lit(1.0);
    let zero = em.lit(0.0);
    if is_matrix {
        let (r, c) = dims;
        let om = em.omatrix_type();
        quote! {
            let mut __mg_e = #om::zeros_generic(#r, #c);
            __mg_e[#k] = #one;
            let #alias = &__mg_e;
        }
    } else {
        quote! {
            let __mg_e = if #k == 0 { #one } else { #zero };
            let #alias = &__mg_e;
        }
    }
}

/// Copy the entries of a value (matrix or scalar) into row or column `k` of `target`.
fn write(
    value: TokenStream,
    is_matrix: bool,
    target: &proc_macro2::Ident,
    k: TokenStream,
    as_row: bool,
) -> TokenStream {
    let at = if as_row {
        quote!((#k, __mg_r))
    } else {
        quote!((__mg_r, #k))
    };
    let at0 = if as_row {
        quote!((#k, 0))
    } else {
        quote!((0, #k))
    };
    if is_matrix {
        quote! {
            for (__mg_r, __mg_x) in #value.iter().enumerate() {
                #target[#at] = *__mg_x;
            }
        }
    } else {
        quote!(#target[#at0] = #value;)
    }
}

/// The statements computing the value and the numerator-layout Jacobians (`__mg_j0`, ..), as a
/// block evaluating to `(value, (J0, ..))`.
fn sweeps(d: &Derivation, lin: &Jacobian, em: &mut Emitter, with_value: bool) -> TokenStream {
    let f = &d.function;
    let g = &d.body.graph;
    let output = d.body.output;
    let out_is_matrix = g.ty(output).is_matrix();
    let out_dims = g.shape(output).map(|s| em.dims(s));
    let s = &f.scalar;
    let dmat = quote!(::matgrad::nalgebra::OMatrix::<#s, ::matgrad::nalgebra::Dyn, ::matgrad::nalgebra::Dyn>);
    let count = |dims: &Option<(TokenStream, TokenStream)>| match dims {
        Some((r, c)) => {
            quote!((::matgrad::nalgebra::Dim::value(&#r) * ::matgrad::nalgebra::Dim::value(&#c)))
        }
        None => quote!(1usize),
    };
    let m = count(&out_dims);
    let vars: Vec<(usize, bool)> = f
        .variables
        .iter()
        .map(|&p| (p, matches!(f.params[p].info.kind, TypeKind::Matrix { .. })))
        .collect();
    let sizes: Vec<TokenStream> = vars
        .iter()
        .map(|&(p, is_m)| {
            let a = format_ident!("__mg_p{}", p);
            if is_m {
                quote!(#a.len())
            } else {
                quote!(1usize)
            }
        })
        .collect();
    let js: Vec<proc_macro2::Ident> = (0..vars.len())
        .map(|i| format_ident!("__mg_j{}", i))
        .collect();
    let allocs: Vec<TokenStream> = js
        .iter()
        .zip(&sizes)
        .map(|(j, n)| quote!(let mut #j = #dmat::zeros(__mg_m, #n);))
        .collect();

    // The value, as the function's own type.
    let value_of = |em: &Emitter| -> TokenStream {
        let v = em.v(output);
        match &f.output.kind {
            TypeKind::Matrix { rows, cols } if !same_type(g.ty(output), *rows, *cols) => {
                let (r, c) = out_dims.clone().unwrap_or_default();
                quote!(::matgrad::__private::conform(#v.clone_owned(), (#r, #c)))
            }
            TypeKind::Matrix { .. } => quote!(#v.clone_owned()),
            _ => v,
        }
    };

    // The whole Jacobian as nodes of the graph: computed like the function's value.
    let mut whole_jacobian = None;
    if let Some(batched) = &lin.batched {
        // `_jacobian` does not compute the value where the Jacobian does not need it (unless
        // the sweeps are an alternative at run time, and both branches return the value).
        let square = builds_square(g, batched);
        let with_value = with_value || square;
        let mut outputs: Vec<NodeId> = vec![output];
        outputs.extend(batched.iter().flatten());
        let outputs = if with_value {
            outputs
        } else {
            outputs[1..].to_vec()
        };
        let (lets, mut values) = em.compute(&outputs);
        if !with_value {
            values.insert(0, quote!(()));
        }
        let value = match &f.output.kind {
            _ if !with_value => quote!(()),
            TypeKind::Matrix { rows, cols } if !same_type(g.ty(output), *rows, *cols) => {
                let (r, c) = out_dims.clone().unwrap_or_default();
                let v = &values[0];
                quote!(::matgrad::__private::conform(#v, (#r, #c)))
            }
            _ => values[0].clone(),
        };
        let mut next = values.iter().skip(1);
        let js: Vec<TokenStream> = batched
            .iter()
            .zip(&sizes)
            .map(|(j, n)| match (j, j.and_then(|_| next.next())) {
                (Some(node), Some(v)) => {
                    let dynamic = g
                        .shape(*node)
                        .is_some_and(|s| matches!((s.rows, s.cols), (Dim::Dyn(_), Dim::Dyn(_))));
                    if dynamic {
                        v.clone()
                    } else {
                        let d = quote!(::matgrad::nalgebra::Dyn);
                        quote!(::matgrad::__private::conform(#v, (#d(__mg_m), #d(#n))))
                    }
                }
                _ => quote!(#dmat::zeros(__mg_m, #n)),
            })
            .collect();
        let whole = quote!({
            #lets
            (#value, (#(#js),*))
        });
        // A whole Jacobian that builds an n×n intermediate (the derivative of an entrywise
        // function of the variable itself) is worse than m reverse sweeps when m < n, e.g. for
        // a scalar result: then the sweeps below are emitted too, and chosen at run time.
        if !square {
            return quote!({
                let __mg_m: usize = #m;
                #whole
            });
        }
        whole_jacobian = Some(whole);
    }

    // Forward sweeps: one per entry of each variable.
    let mut outputs: Vec<NodeId> = vec![output];
    for l in &lin.forward {
        outputs.extend(l.outputs.iter().flatten());
    }
    let needed = em.plan(&outputs);
    let any_dir: Vec<bool> = (0..g.len())
        .map(|i| {
            lin.forward
                .iter()
                .any(|l| l.variant.get(i).copied().unwrap_or(false))
        })
        .collect();
    // A loop that varies with a direction is run once per direction.
    let any_dir = em.group_variance(&any_dir, &needed);
    let before = em.lets(&needed, |n| !any_dir[n.index()]);
    let mut loops = TokenStream::new();
    for (i, (l, &(p, is_m))) in lin.forward.iter().zip(&vars).enumerate() {
        let Some(df) = l.outputs[0] else { continue };
        let leaf = l.inputs[0];
        let alias = g.leaf_alias(leaf);
        let var = format_ident!("__mg_p{}", p);
        let dims = (
            quote!(#var.shape_generic().0),
            quote!(#var.shape_generic().1),
        );
        let set = basis(em, &alias, is_m, dims, quote!(__mg_k));
        let variant = em.group_variance(&l.variant, &needed);
        let inside = em.lets(&needed, |n| variant[n.index()]);
        let j = &js[i];
        let w = write(em.v(df), out_is_matrix, j, quote!(__mg_k), false);
        let n = &sizes[i];
        loops.extend(quote! {
            for __mg_k in 0..#n {
                #set
                #inside
                #w
            }
        });
    }
    let value = value_of(em);
    let forward = quote!({ #before #(#allocs)* #loops (#value, (#(#js),*)) });

    // Reverse sweeps: one per entry of the result.
    let rev = &lin.reverse;
    let mut outputs: Vec<NodeId> = vec![output];
    outputs.extend(rev.outputs.iter().flatten());
    let needed = em.plan(&outputs);
    let variant = em.group_variance(&rev.variant, &needed);
    let before = em.lets(&needed, |n| !variant[n.index()]);
    let inside = em.lets(&needed, |n| variant[n.index()]);
    let cot = g.leaf_alias(rev.inputs[0]);
    let set = basis(
        em,
        &cot,
        out_is_matrix,
        out_dims.clone().unwrap_or_default(),
        quote!(__mg_i),
    );
    let mut writes = TokenStream::new();
    for (i, (o, &(_, is_m))) in rev.outputs.iter().zip(&vars).enumerate() {
        if let Some(o) = o {
            writes.extend(write(em.v(*o), is_m, &js[i], quote!(__mg_i), true));
        }
    }
    let value = value_of(em);
    let reverse = quote!({
        #before
        #(#allocs)*
        for __mg_i in 0..__mg_m {
            #set
            #inside
            #writes
        }
        (#value, (#(#js),*))
    });

    let total = quote!(0usize #(+ #sizes)*);
    match whole_jacobian {
        Some(whole) => quote! {
            let __mg_m: usize = #m;
            if __mg_m < #total { #reverse } else { #whole }
        },
        None => quote! {
            let __mg_m: usize = #m;
            if __mg_m <= #total { #reverse } else { #forward }
        },
    }
}

/// Whether a whole Jacobian computes an n×n matrix besides the function's own values (n the
/// entries of its variable), such as diag(f′(x)) for an entrywise function of the variable.
fn builds_square(g: &crate::ir::Graph, batched: &[Option<NodeId>]) -> bool {
    batched.iter().flatten().any(|&j| {
        let Some(n) = g.shape(j).map(|s| s.cols) else {
            return false;
        };
        let mut stack = vec![j];
        let mut seen = std::collections::HashSet::new();
        while let Some(x) = stack.pop() {
            if !seen.insert(x) || g.is_primal(x) {
                continue;
            }
            if g.shape(x)
                .is_some_and(|s| g.dims.same(s.rows, n) && g.dims.same(s.cols, n))
            {
                return true;
            }
            stack.extend(g.args(x).iter().copied());
        }
        false
    })
}

/// A numerator-layout Jacobian in the requested layout and type.
fn finish(
    f: &Function,
    p: usize,
    layout: Layout,
    j: TokenStream,
    out_dims: Option<(TokenStream, TokenStream)>,
) -> TokenStream {
    let var = format_ident!("__mg_p{}", p);
    let s = &f.scalar;
    let laid = match layout {
        Layout::Numerator => j,
        Layout::Denominator => quote!(#j.transpose()),
        Layout::Blocks => {
            // Entry (i·m + r, j·n + c) of the block matrix is ∂F_ij/∂X_rc, which is entry
            // (i + j·p, r + c·m) of the numerator layout.
            let (pr, qc) = match &out_dims {
                Some((r, c)) => (
                    quote!(::matgrad::nalgebra::Dim::value(&#r)),
                    quote!(::matgrad::nalgebra::Dim::value(&#c)),
                ),
                None => (quote!(1usize), quote!(1usize)),
            };
            let (mr, nc) = match f.params[p].info.kind {
                TypeKind::Matrix { .. } => (quote!(#var.nrows()), quote!(#var.ncols())),
                _ => (quote!(1usize), quote!(1usize)),
            };
            quote!({
                let (__mg_bp, __mg_bq, __mg_bm, __mg_bn) = (#pr, #qc, #mr, #nc);
                let __mg_num = #j;
                ::matgrad::nalgebra::OMatrix::<#s, ::matgrad::nalgebra::Dyn, ::matgrad::nalgebra::Dyn>::from_fn(
                    __mg_bp * __mg_bm,
                    __mg_bq * __mg_bn,
                    |__mg_a, __mg_b| {
                        let (__mg_i, __mg_r) = (__mg_a / __mg_bm, __mg_a % __mg_bm);
                        let (__mg_j, __mg_c) = (__mg_b / __mg_bn, __mg_b % __mg_bn);
                        __mg_num[(__mg_i + __mg_j * __mg_bp, __mg_r + __mg_c * __mg_bm)]
                    },
                )
            })
        }
    };
    let ty = jacobian_type(f, p, layout);
    if ty.to_string().contains("SMatrix") {
        quote!(::matgrad::__private::conform_to::<#ty, _, _, _>(#laid))
    } else {
        laid
    }
}

pub fn items(d: &Derivation, lin: &Jacobian) -> TokenStream {
    let f = &d.function;
    let g = &d.body.graph;
    let item = &f.item;
    let vis = &item.vis;
    let name = &item.sig.ident;
    let attrs = shared_attrs(item);
    let layout = d.options.layout;
    let names = d.variable_names();
    let jac_name = format_ident!("{}_jacobian", name);
    let vj_name = format_ident!("{}_value_and_jacobian", name);
    let const_name = format_ident!(
        "{}_JACOBIAN_FORMULA",
        name.unraw().to_string().to_uppercase()
    );
    let _ = tuple_type;
    let [jac_sig, vj_sig, try_jac_sig, try_vj_sig] = signatures(f, layout);

    let out_dims_of = |em: &Emitter| g.shape(d.body.output).map(|s| em.dims(s));
    let body = |fn_name: String, with_value: bool| -> TokenStream {
        let mut em = Emitter::new(g, &d.body, f, fn_name.clone(), crate::pretty::node_text);
        let compute = sweeps(d, lin, &mut em, with_value);
        let out_dims = out_dims_of(&em);
        let js: Vec<TokenStream> = (0..f.variables.len())
            .map(|i| {
                let j = format_ident!("__mg_j{}", i);
                finish(f, f.variables[i], layout, quote!(#j), out_dims.clone())
            })
            .collect();
        let jacobians = tuple_value(&js);
        let raw: Vec<proc_macro2::Ident> = (0..f.variables.len())
            .map(|i| format_ident!("__mg_j{}", i))
            .collect();
        let result = if with_value {
            quote!((__mg_value, #jacobians))
        } else {
            jacobians
        };
        let code = quote! {
            let (__mg_value, (#(#raw),*)) = { #compute };
            #result
        };
        let prelude = em.prelude(&code);
        let checks = shape_checks(d, &fn_name);
        quote! {
            #checks
            if let ::core::result::Result::Err(e) = __mg_shapes {
                ::core::panic!("{}", e);
            }
            #prelude
            #code
        }
    };
    let jac_body = body(jac_name.to_string(), false);
    let vj_body = body(vj_name.to_string(), true);
    let args: Vec<_> = f.params.iter().map(|p| p.name.clone()).collect();
    let try_bodies = match args.iter().cloned().collect::<Option<Vec<_>>>() {
        Some(args) => {
            let (c1, c2) = (
                shape_checks(d, &jac_name.to_string()),
                shape_checks(d, &vj_name.to_string()),
            );
            let (jac_path, vj_path) = (f.path_of(&jac_name), f.path_of(&vj_name));
            (
                quote!(#c1 __mg_shapes?; ::core::result::Result::Ok(#jac_path(#(#args),*))),
                quote!(#c2 __mg_shapes?; ::core::result::Result::Ok(#vj_path(#(#args),*))),
            )
        }
        None => (
            quote!(::core::unimplemented!()),
            quote!(::core::unimplemented!()),
        ),
    };
    let (try_jac_body, try_vj_body) = try_bodies;

    // Docs.
    // The variable's own name in the layout (issue 18), `x` standing for each of several.
    let x = match names.as_slice() {
        [one] => one.as_str(),
        _ => "x",
    };
    let layout_text = match layout {
        Layout::Numerator => format!("numerator layout: one row per entry of vec(f), one column per entry of vec({x}), ∂vec(f)/∂vec({x})ᵀ"),
        Layout::Denominator => format!("denominator layout: one row per entry of vec({x}), one column per entry of vec(f), ∂vec(f)ᵀ/∂vec({x})"),
        Layout::Blocks => format!("block layout: for f p×q and {x} m×n, the pm×qn matrix whose (i, j) block is ∂f_ij/∂{x}"),
    };
    let lines: Vec<String> = names
        .iter()
        .zip(lin.formulas.iter().zip(&lin.differentials))
        .map(|(n, (j, dfl))| {
            let jl = if j.is_empty() {
                "(see the differential)".to_string()
            } else {
                j.clone()
            };
            // The direction on the first line, before any `where`.
            let (first, rest) = dfl.split_once('\n').unwrap_or((dfl, ""));
            let rest = if rest.is_empty() {
                String::new()
            } else {
                format!("\n{rest}")
            };
            format!("df = {first}   (in the direction d{n}){rest}\n∂vec(f)/∂vec({n})ᵀ = {jl}")
        })
        .collect();
    let text = lines.join("\n");
    let how = if lin.batched.is_some() {
        "Computed whole from the differential, as products and row scalings of the function's own values (every value between the variables and the result is a vector or a scalar): a linear map costs one copy, diag(d) W one row scaling."
    } else {
        "Filled by forward sweeps (one per entry of a variable) or reverse sweeps (one per entry of the result), whichever are fewer."
    };
    // Issue 18: the Jacobians typeset, the derivation folded and in a constant.
    let derivation_name = format_ident!("{}_DERIVATION", name.unraw().to_string().to_uppercase());
    let derivation = crate::explain::text(&d.derivations);
    let derivation_doc = format!("The derivation, step by step, of the Jacobian of [`{name}`]:\n\n```text\n{derivation}\n```");
    let doc = format!(
        "The Jacobian of [`{name}`] with respect to {}, derived by matgrad, in {layout_text}:\n\n```text\n{text}\n```\n\n{}\n\n{how}\n\n{}",
        names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
        typeset_jacobians(d, lin, layout),
        crate::explain::folded(&derivation)
    );
    let vdoc = format!("The value of [`{name}`] and its Jacobian ([`{jac_name}`]), computed together.\n\n```text\n{text}\n```");
    let try_doc = |of: &syn::Ident| {
        format!("[`{of}`], with a [`ShapeError`](::matgrad::ShapeError) instead of a panic for arguments whose shapes do not fit together.")
    };
    let (try_jdoc, try_vdoc) = (try_doc(&jac_name), try_doc(&vj_name));
    let const_doc =
        format!("The Jacobian formula matgrad derived for [`{name}`]:\n\n```text\n{text}\n```");
    let _ = Dim::Fixed(0);
    let (text_literal, derivation_literal) =
        (super::text_literal(&text), super::text_literal(&derivation));
    quote! {
        #(#attrs)*
        #[doc = #const_doc]
        #[allow(dead_code)]
        #vis const #const_name: &str = #text_literal;

        #(#attrs)*
        #[doc = #derivation_doc]
        #[allow(dead_code)]
        #vis const #derivation_name: &str = #derivation_literal;

        #(#attrs)*
        #[doc = #doc]
        #[allow(dead_code, unused_variables, unused_mut, unused_parens, non_snake_case, clippy::all)]
        #vis #jac_sig { #jac_body }

        #(#attrs)*
        #[doc = #vdoc]
        #[allow(dead_code, unused_variables, unused_mut, unused_parens, non_snake_case, clippy::all)]
        #vis #vj_sig { #vj_body }

        #(#attrs)*
        #[doc = #try_jdoc]
        #[allow(dead_code, unused_variables, unreachable_code, clippy::all)]
        #vis #try_jac_sig { #try_jac_body }

        #(#attrs)*
        #[doc = #try_vdoc]
        #[allow(dead_code, unused_variables, unreachable_code, clippy::all)]
        #vis #try_vj_sig { #try_vj_body }
    }
}

/// The signatures of `_jacobian`, `_value_and_jacobian` and their `try_` variants, with the
/// Jacobians' types in `layout`.
fn signatures(f: &Function, layout: Layout) -> [syn::Signature; 4] {
    let name = &f.item.sig.ident;
    let jac_name = format_ident!("{}_jacobian", name);
    let vj_name = format_ident!("{}_value_and_jacobian", name);
    let out_ty = match &f.item.sig.output {
        syn::ReturnType::Type(_, t) => quote!(#t),
        syn::ReturnType::Default => quote!(()),
    };
    let j_types: Vec<TokenStream> = f
        .variables
        .iter()
        .map(|&p| jacobian_type(f, p, layout))
        .collect();
    let j_ty = match j_types.as_slice() {
        [one] => one.clone(),
        many => quote!((#(#many),*)),
    };
    let shape_error = quote!(::matgrad::ShapeError);
    [
        signature(f, &jac_name, j_ty.clone()),
        signature(f, &vj_name, quote!((#out_ty, #j_ty))),
        signature(
            f,
            &format_ident!("try_{}", jac_name),
            quote!(::core::result::Result<#j_ty, #shape_error>),
        ),
        signature(
            f,
            &format_ident!("try_{}", vj_name),
            quote!(::core::result::Result<(#out_ty, #j_ty), #shape_error>),
        ),
    ]
}

/// `_jacobian`, `_value_and_jacobian` and their `try_` variants with the types they would
/// have and no bodies, beside an error.
pub fn stand_ins(f: &Function, layout: Layout) -> TokenStream {
    if f.variables.is_empty() {
        return TokenStream::new();
    }
    let vis = &f.item.vis;
    let sigs = signatures(f, layout);
    quote! {
        #(
            #[allow(dead_code, unused_variables, clippy::all)]
            #vis #sigs { ::core::unreachable!() }
        )*
    }
}

/// The Jacobians' formulas typeset for the docs, in numerator layout (the only one the
/// formulas are written in); nothing where one has no closed form.
fn typeset_jacobians(d: &Derivation, lin: &crate::Jacobian, layout: Layout) -> String {
    if !matches!(layout, Layout::Numerator) {
        return String::new();
    }
    let g = &d.body.graph;
    let names = d.variable_names();
    let mut shown = names.clone();
    shown.extend(names.iter().map(|n| format!("d{n}")));
    let mut lines = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let lhs = format!("∂vec(f)/∂vec({n})ᵀ");
        let f = &lin.forward[i];
        match (f.outputs.first().copied().flatten(), f.inputs.first()) {
            (None, _) => lines.push(crate::pretty::zero_latex(&lhs)),
            (Some(df), Some(&dir)) => {
                match crate::pretty::jacobian_formula_latex(g, df, dir, &shown, &lhs) {
                    Some(l) => lines.extend(l),
                    None => return String::new(),
                }
            }
            _ => return String::new(),
        }
    }
    crate::pretty::typeset(&lines)
}
