//! `minimize`'s conditions: one variable, named parameters, an objective quadratic in the
//! variable (its Hessian-vector product does not depend on it) and not linear, and a variable
//! whose sizes the other parameters tell, so that `<name>_argmin` can build it.

use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::derivation::Second;
use crate::derive::depends_on;
use crate::front::types::{Axis, TypeKind};
use crate::front::{Body, Function};
use crate::shape::{Dim, Ty};

/// What `<name>_argmin` needs that only validation can tell.
pub struct Minimizer {
    /// The parameters' names, in order (every parameter has one).
    pub names: Vec<syn::Ident>,
    /// An expression for the variable's zero, with its sizes read from the other parameters.
    pub zero: TokenStream,
}

/// The conditions that need no derivative: one variable and named parameters.
pub fn function(f: &Function, span: Span) -> Vec<syn::Error> {
    let mut errors = Vec::new();
    if f.variables.len() != 1 {
        errors.push(syn::Error::new(
            span,
            format!("`minimize` solves for one variable, but `wrt` lists {}: stack them into one vector", f.variables.len()),
        ));
    }
    for (p, input) in f.params.iter().zip(&f.item.sig.inputs) {
        if p.name.is_none() {
            errors.push(syn::Error::new_spanned(
                input,
                "`minimize` calls the generated functions by the parameters' names: give this parameter a plain name",
            ));
        }
    }
    errors
}

/// The conditions on the derivative, for a function that passed [`function`].
pub fn derived(
    f: &Function,
    body: &Body,
    second: &Second,
    span: Span,
) -> Result<Minimizer, Vec<syn::Error>> {
    let name = f.item.sig.ident.to_string();
    let var = f.variable_names().remove(0);
    let err = |msg: String| vec![syn::Error::new(span, msg)];
    let Some(leaf) = body.param_nodes[f.variables[0]] else {
        return Err(err(format!(
            "`minimize`: `{name}` does not depend on `{var}`, so every `{var}` minimises it"
        )));
    };
    let g = &body.graph;
    let on_variable = depends_on(g, &[leaf]);
    let quadratic = second
        .hvp
        .outputs
        .iter()
        .flatten()
        .all(|o| !on_variable[o.index()]);
    if !quadratic {
        let hvp = second.hvp_formulas.first().cloned().unwrap_or_default();
        let dir = &second.dir_name;
        return Err(err(format!(
            "`minimize` needs `{name}` quadratic in `{var}`, but its Hessian depends on `{var}` (H {dir} = {hvp}), so ∇f = 0 has no closed-form linear solve: remove `minimize` and use an iterative solver (e.g. `argmin = Name` with L-BFGS)"
        )));
    }
    if second.hvp.outputs.iter().all(|o| o.is_none()) {
        return Err(err(format!("`minimize`: `{name}` is linear in `{var}` (its Hessian is zero), so it has no minimum unless its gradient is zero")));
    }
    let zero = zero_variable(f, body)?;
    let names = f.params.iter().filter_map(|p| p.name.clone()).collect();
    Ok(Minimizer { names, zero })
}

/// `0` of the variable's type, with its dynamic sizes read from the other parameters.
fn zero_variable(f: &Function, body: &Body) -> Result<TokenStream, Vec<syn::Error>> {
    let g = &body.graph;
    let var = f.variables[0];
    let s = &f.scalar;
    let na = quote!(::matgrad::nalgebra);
    let param = &f.params[var];
    let TypeKind::Matrix { rows, cols } = param.info.kind else {
        return Ok(quote!(#na::zero::<#s>()));
    };
    let shape = body.param_nodes[var].and_then(|n| g.ty(n).shape());
    let dims = shape.map(|sh| (sh.rows, sh.cols));
    let size = |axis: Axis, dim: Option<Dim>, what: &str| -> syn::Result<TokenStream> {
        if let Axis::Fixed(n) = axis {
            return Ok(quote!(#na::Const::<#n>));
        }
        let Some(dim) = dim else {
            return Err(syn::Error::new_spanned(
                &param.ty,
                "`minimize`: no shape is known for the variable",
            ));
        };
        if let Some(n) = g.dims.known(dim) {
            return Ok(quote!(#na::Dyn(#n)));
        }
        let Dim::Dyn(v) = dim else {
            return Ok(quote!(#na::Dyn(0)));
        };
        let class = g.dims.find(v);
        for (i, p) in f.params.iter().enumerate() {
            let (Some(pname), Some(node), true) = (&p.name, body.param_nodes[i], i != var) else {
                continue;
            };
            let Ty::Matrix(sh) = g.ty(node) else { continue };
            for (dd, method) in [(sh.rows, quote!(nrows)), (sh.cols, quote!(ncols))] {
                if let Dim::Dyn(u) = dd {
                    if g.dims.find(u) == class {
                        return Ok(quote!(#na::Dyn(#pname.#method())));
                    }
                }
            }
        }
        let vname = param
            .name
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_default();
        Err(syn::Error::new_spanned(
            &param.ty,
            format!("`minimize` builds `{vname}` itself, but its number of {what} is not tied to any other parameter's size by the body, so `{}_argmin` could not tell it", f.item.sig.ident),
        ))
    };
    let r = size(rows, dims.map(|x| x.0), "rows");
    let c = size(cols, dims.map(|x| x.1), "columns");
    match (r, c) {
        (Ok(r), Ok(c)) => Ok(quote!(#na::OMatrix::<#s, _, _>::zeros_generic(#r, #c))),
        (r, c) => Err([r.err(), c.err()].into_iter().flatten().collect()),
    }
}
