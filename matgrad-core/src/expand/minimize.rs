//! `minimize`: `<name>_argmin(..)` and `try_<name>_argmin(..)`, the closed-form minimiser of an
//! objective that is quadratic in its variable, seed 000's own method: set the gradient to zero
//! and solve.
//!
//! f is quadratic in w exactly when its Hessian-vector product H v (the forward differential of
//! the gradient, `derive::second`) does not depend on w. Then ∇f is affine, ∇f(w) = H w + ∇f(0),
//! and ∇f = 0 is the linear system H w = −∇f(0): ordinary and weighted least squares give the
//! normal equations XᵀX w = Xᵀy, ridge (XᵀX + λI) w = Xᵀy. The generated code builds H with
//! `_hessian` and ∇f(0) with `_grad` at w = 0 and solves with a Cholesky factorisation (LU where
//! H is not positive definite); it never forms an inverse.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::adapter::pass;
use super::{shape_checks, shared_attrs, signature};
use crate::front::types::{Axis, TypeKind};
use crate::front::Function;
use crate::valid::Minimizer;
use crate::{Derivation, Gradient};

/// `<name>_argmin` and `try_<name>_argmin`, for an objective validation found quadratic.
pub fn items(d: &Derivation, gr: &Gradient, m: &Minimizer) -> TokenStream {
    let f = &d.function;
    let item = &f.item;
    let vis = &item.vis;
    let name = &item.sig.ident;
    let attrs = shared_attrs(item);
    let var = f.variables[0];
    let param = &f.params[var];
    let owned = &param.info.owned;
    let argmin_name = format_ident!("{}_argmin", name);
    let try_name = format_ident!("try_{}", argmin_name);
    let hessian_name = format_ident!("{}_hessian", name);
    let grad_name = format_ident!("{}_grad", name);
    let names = &m.names;
    let (hessian_path, grad_path) = (f.path_of(&hessian_name), f.path_of(&grad_name));
    let try_path = f.path_of(&try_name);
    let var_ident = &names[var];
    let zero = &m.zero;
    let args: Vec<TokenStream> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if i == var {
                pass(&quote!(&#n), param.info.by_ref)
            } else {
                quote!(#n)
            }
        })
        .collect();
    let other_args: Vec<&syn::Ident> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != var)
        .map(|(_, n)| n)
        .collect();
    let is_matrix = matches!(param.info.kind, TypeKind::Matrix { .. });
    let solve = if is_matrix {
        quote!(-factor.solve_like(&__mg_b))
    } else {
        quote!(-factor.solve_scalar(__mg_b))
    };
    let fn_text = argmin_name.to_string();
    let checks = shape_checks(d, &fn_text);
    let objective_text = name.to_string();
    let var_text = var_ident.to_string();

    let try_sig = argmin_signature(
        &d.function,
        &try_name,
        quote!(::core::result::Result<#owned, ::matgrad::SolveError>),
    );
    let sig = argmin_signature(f, &argmin_name, quote!(#owned));

    // Docs: the normal equations, in textbook form.
    let second = gr.second.as_ref();
    let gradient = gr.formulas.first().cloned().unwrap_or_default();
    let hessian = second
        .and_then(|s| s.hessian_formula.clone())
        .unwrap_or_else(|| format!("(see {hessian_name})"));
    let (vec_w, vec_g) = if is_matrix
        && !matches!(
            param.info.kind,
            TypeKind::Matrix {
                cols: Axis::Fixed(1),
                ..
            }
        ) {
        (format!("vec({var_text})"), "vec(∇f(0))".to_string())
    } else {
        (var_text.clone(), "∇f(0)".to_string())
    };
    let equations = format!(
        "∇f({var_text}) = {gradient} = 0\n∇²f = {hessian}   (constant: f is quadratic in {var_text})\n⇒ ({hessian}) {vec_w} = −{vec_g}"
    );
    let doc = format!(
        "The minimiser of [`{name}`] over `{var_text}`, in closed form: the solution of ∇f = 0, which for an objective quadratic in `{var_text}` is a linear system (the normal equations):\n\n```text\n{equations}\n```\n\n\
         The Hessian is built by [`{hessian_name}`] and ∇f(0) by [`{grad_name}`] at `{var_text}` = 0; the system is solved through a Cholesky factorisation where the Hessian is positive definite and LU otherwise (then the solution is the stationary point, a saddle or a maximum); no inverse is formed.\n\n\
         # Panics\n\nWhere the arguments' shapes do not fit together, or the Hessian is singular (∇f = 0 has no unique solution); [`{try_name}`] returns these as a [`SolveError`](::matgrad::SolveError)."
    );
    let try_doc = format!("[`{argmin_name}`], with arguments whose shapes do not fit together and a singular Hessian reported as a [`SolveError`](::matgrad::SolveError) instead of a panic.");
    quote! {
        #(#attrs)*
        #[doc = #try_doc]
        #[allow(dead_code, unused_variables, unused_mut, unused_parens, non_snake_case, clippy::all)]
        #vis #try_sig {
            let #var_ident: #owned = #zero;
            #checks
            if let ::core::result::Result::Err(e) = __mg_shapes {
                return ::core::result::Result::Err(::matgrad::SolveError::Shape(e));
            }
            let __mg_h = #hessian_path(#(#args),*);
            let __mg_b = #grad_path(#(#args),*);
            match ::matgrad::__private::SymmetricFactor::new(__mg_h) {
                ::core::option::Option::Some(factor) => ::core::result::Result::Ok(#solve),
                ::core::option::Option::None => ::core::result::Result::Err(::matgrad::SolveError::Singular {
                    function: #fn_text,
                    objective: #objective_text,
                    variable: #var_text,
                }),
            }
        }

        #(#attrs)*
        #[doc = #doc]
        #[allow(dead_code, unused_variables, unused_mut, unused_parens, non_snake_case, clippy::all)]
        #vis #sig {
            match #try_path(#(#other_args),*) {
                ::core::result::Result::Ok(w) => w,
                ::core::result::Result::Err(e) => ::core::panic!("{}", e),
            }
        }
    }
}

/// The signature of `<name>_argmin` (prefixed), without the variable, returning `output`.
fn argmin_signature(f: &Function, name: &syn::Ident, output: TokenStream) -> syn::Signature {
    let mut sig = signature(f, name, output);
    let var = f.variables.first().copied().unwrap_or(0);
    sig.inputs = sig
        .inputs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != var)
        .map(|(_, a)| a.clone())
        .collect();
    sig
}

/// `_argmin` with the right signature and no body, beside the error, so that callers compile.
pub(super) fn stand_ins(f: &Function) -> TokenStream {
    if f.variables.len() != 1 {
        return TokenStream::new();
    }
    let item = &f.item;
    let vis = &item.vis;
    let owned = &f.params[f.variables[0]].info.owned;
    let argmin_name = format_ident!("{}_argmin", item.sig.ident);
    let try_name = format_ident!("try_{}", argmin_name);
    let sig = argmin_signature(f, &argmin_name, quote!(#owned));
    let try_sig = argmin_signature(
        f,
        &try_name,
        quote!(::core::result::Result<#owned, ::matgrad::SolveError>),
    );
    quote! {
        #[allow(dead_code, unused_variables, clippy::all)]
        #vis #sig { ::core::unreachable!() }
        #[allow(dead_code, unused_variables, clippy::all)]
        #vis #try_sig { ::core::unreachable!() }
    }
}
