//! The engine behind `#[gradient]`: an ordinary library, testable without compiling user code.
//!
//! The pipeline, one phase per module:
//!
//! ```text
//! attr::parse ─┐
//! front::parse ┴→ front::lower (graph) → cx.check()? → grad::reverse (rules) → pretty, emit
//! ```
//!
//! Nothing after `cx.check()` sees invalid input; every user error is a `syn::Error` spanned on
//! the user's tokens, and all of a function's errors are reported together.

pub mod attr;
pub mod ctxt;
pub mod emit;
#[cfg(any(test, feature = "eval"))]
pub mod eval;
mod expand;
pub mod front;
pub mod grad;
pub mod ir;
pub mod pretty;
pub mod rules;
pub mod shape;
pub mod simplify;

use proc_macro2::TokenStream;

use ctxt::Ctxt;
use front::{Body, Function};
use ir::NodeId;

/// A function and its derived gradient.
pub struct Derivation {
    pub function: Function,
    pub body: Body,
    /// ∂f/∂x for each variable in `wrt` order; `None` where f does not depend on it.
    pub gradients: Vec<Option<NodeId>>,
    /// The gradient formulas in textbook form, one per variable (`2 xᵀ(x w − y)`).
    pub formulas: Vec<String>,
}

impl Derivation {
    /// The names of the variables, in `wrt` order.
    pub fn variable_names(&self) -> Vec<String> {
        self.function
            .variables
            .iter()
            .map(|&i| {
                self.function.params[i]
                    .name
                    .as_ref()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            })
            .collect()
    }
}

/// What `derive` returns on error: the combined errors and, if the item was a function, the
/// function (so that the expansion can still emit it).
pub type Failure = Box<(syn::Error, Option<Function>)>;

/// Parse, check and differentiate.
pub fn derive(attr: TokenStream, item: TokenStream) -> Result<Derivation, Failure> {
    let mut cx = Ctxt::new();
    let options = attr::parse(attr, &mut cx);
    let Some(function) = front::parse(item, options.as_ref(), &mut cx) else {
        return Err(Box::new((
            cx.check().err().unwrap_or_else(internal_error),
            None,
        )));
    };
    let body = front::lower(&function, &mut cx);
    if let Err(e) = cx.check() {
        return Err(Box::new((e, Some(function))));
    }
    let Some(mut body) = body else {
        return Err(Box::new((internal_error(), Some(function))));
    };

    let g = &mut body.graph;
    let wrt: Vec<NodeId> = function
        .variables
        .iter()
        .map(|&i| body.param_nodes[i].unwrap_or(body.output))
        .collect();
    let seed = g.lit(1.0);
    let gradients = if g.is_active(body.output) {
        grad::reverse(g, body.output, seed, &wrt)
    } else {
        vec![None; wrt.len()]
    };
    let mut d = Derivation {
        function,
        body,
        gradients,
        formulas: Vec::new(),
    };
    let names = d.variable_names();
    d.formulas = d
        .gradients
        .iter()
        .map(|gr| match gr {
            Some(n) => pretty::formula(&d.body.graph, *n, &names),
            None => "0".to_string(),
        })
        .collect();
    Ok(d)
}

fn internal_error() -> syn::Error {
    syn::Error::new(
        proc_macro2::Span::call_site(),
        "matgrad: internal error: no result and no error (please report)",
    )
}

/// The whole expansion of `#[gradient(attr)] item`: the function as written, plus its
/// gradient functions — or, on error, the function, the errors and stand-ins for the gradient
/// functions so that callers do not report errors of their own.
pub fn expand_gradient(attr: TokenStream, item: TokenStream) -> TokenStream {
    match derive(attr, item.clone()) {
        Ok(d) => expand::gradient_items(&d),
        Err(failure) => {
            let (err, function) = *failure;
            let mut out = err.to_compile_error();
            match &function {
                Some(f) => {
                    out.extend(quote::quote!(#[allow(clippy::all)]));
                    let item = &f.item;
                    out.extend(quote::quote!(#item));
                    out.extend(expand::stand_ins(f));
                }
                None => out.extend(item),
            }
            out
        }
    }
}

#[cfg(test)]
mod tests;
