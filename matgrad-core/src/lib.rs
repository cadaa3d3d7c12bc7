//! The engine behind `#[gradient]`: an ordinary library, testable without compiling user code.
//!
//! The pipeline, one phase per module:
//!
//! ```text
//! attr::parse ─┐
//! front::parse ┴→ front::lower (graph) → cx.check()? → grad::reverse (rules) → pretty, emit
//!                                                     derive (HVPs, sweeps), batched (Jacobians)
//! ```
//!
//! Smart constructors (`simplify`, `structure`) apply the algebra as nodes are built;
//! `expand/` writes the companion items.
//!
//! Nothing after `cx.check()` sees invalid input; every user error is a `syn::Error` spanned on
//! the user's tokens, and all of a function's errors are reported together.

pub mod attr;
mod batched;
pub mod ctxt;
mod derive;
pub mod emit;
#[cfg(any(test, feature = "eval"))]
pub mod eval;
mod expand;
pub mod explain;
pub mod front;
pub mod grad;
pub mod ir;
pub mod pretty;
pub mod rules;
pub mod shape;
pub mod simplify;
mod structure;

use proc_macro2::TokenStream;

use ctxt::Ctxt;
use front::{Body, Function};
use ir::NodeId;

/// A function and its derived gradient.
pub struct Derivation {
    pub options: attr::Options,
    pub function: Function,
    pub body: Body,
    /// ∂f/∂x for each variable in `wrt` order; `None` where f does not depend on it.
    pub gradients: Vec<Option<NodeId>>,
    /// The gradient formulas in textbook form, one per variable (`2 xᵀ(x w − y)`).
    pub formulas: Vec<String>,
    /// With `hessian`: the Hessian applied to a direction.
    pub second: Option<Second>,
    /// For `#[jacobian]`: the differentials used to build the Jacobians.
    pub jacobian: Option<Linearized>,
    /// The derivation of each gradient, step by step (`explain`).
    pub derivations: Vec<explain::Explained>,
}

/// A derivative that is linear in an extra input (a direction or a cotangent), as graph nodes:
/// generated code evaluates it once for a given input, or once per basis vector to fill a
/// matrix.
pub struct Linear {
    /// The input leaves (parameters the generated code binds), one per variable or one in all.
    pub inputs: Vec<NodeId>,
    /// The outputs, linear in the inputs; `None` where an output is zero.
    pub outputs: Vec<Option<NodeId>>,
    /// Which nodes depend on the inputs (and so must be recomputed per basis vector).
    pub variant: Vec<bool>,
}

/// Second derivatives: the Hessian-vector product, forward-over-reverse.
pub struct Second {
    /// Directions V (one per variable) ↦ (H V) per variable.
    pub hvp: Linear,
    /// The name of the direction parameter of `_hvp`.
    pub dir_name: String,
    /// `(H v)` per variable, in textbook form.
    pub hvp_formulas: Vec<String>,
    /// The Hessian as a matrix formula, where it has a closed form matgrad can print.
    pub hessian_formula: Option<String>,
}

/// First derivatives of a function with a vector or matrix value.
pub struct Linearized {
    /// Per variable: the direction dX ↦ dF (forward sweeps, one per entry of X).
    pub forward: Vec<Linear>,
    /// The cotangent F̄ ↦ X̄ for every variable (reverse sweeps, one per entry of F).
    pub reverse: Linear,
    /// Per variable: the Jacobian in closed form (numerator layout), where matgrad can print it.
    pub formulas: Vec<String>,
    /// Per variable: the differential dF in terms of dX.
    pub differentials: Vec<String>,
    /// Per variable, the whole Jacobian as one node (`batched.rs`), where every value between
    /// the variables and the result is a vector or a scalar; `None` if the sweeps fill it.
    pub batched: Option<Vec<Option<NodeId>>>,
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
/// function and the attribute's options as far as they were read (so that the expansion can
/// still emit the function and stand-ins for everything the attribute would have added).
pub type Failure = Box<(syn::Error, Option<Function>, Option<attr::Options>)>;

/// Parse, check and differentiate.
pub fn derive(attr: TokenStream, item: TokenStream) -> Result<Derivation, Failure> {
    derive_with(attr::Macro::Gradient, attr, item)
}

/// Parse, check and differentiate, for either attribute.
pub fn derive_with(
    kind: attr::Macro,
    attr: TokenStream,
    item: TokenStream,
) -> Result<Derivation, Failure> {
    let mut cx = Ctxt::new();
    let options = attr::parse(kind, attr, &mut cx);
    let Some(function) = front::parse(kind, item, options.as_ref(), &mut cx) else {
        return Err(Box::new((
            cx.check().err().unwrap_or_else(internal_error),
            None,
            options,
        )));
    };
    // A return type that does not fit would make every use of the value an error too.
    let body = if function.output_fits {
        front::lower(&function, &mut cx)
    } else {
        None
    };
    if let Err(e) = cx.check() {
        return Err(Box::new((e, Some(function), options)));
    }
    let Some(options) = options else {
        return Err(Box::new((internal_error(), Some(function), None)));
    };
    let Some(body) = body else {
        return Err(Box::new((internal_error(), Some(function), Some(options))));
    };

    let wrt: Vec<NodeId> = function
        .variables
        .iter()
        .map(|&i| body.param_nodes[i].unwrap_or(body.output))
        .collect();
    let mut d = Derivation {
        options,
        function,
        body,
        gradients: Vec::new(),
        formulas: Vec::new(),
        second: None,
        jacobian: None,
        derivations: Vec::new(),
    };
    let names = d.variable_names();
    match d.options.kind {
        attr::Macro::Gradient => {
            let seed = d.body.graph.lit(1.0);
            let g = &mut d.body.graph;
            d.gradients = if g.is_active(d.body.output) {
                grad::reverse(g, d.body.output, seed, &wrt)
            } else {
                vec![None; wrt.len()]
            };
            d.formulas = d
                .gradients
                .iter()
                .map(|gr| {
                    gr.map(|n| pretty::formula(&d.body.graph, n, &names))
                        .unwrap_or_else(|| "0".into())
                })
                .collect();
            // `minimize` reads the Hessian-vector product to tell whether f is quadratic.
            if d.options.hessian.is_some() || d.options.minimize.is_some() {
                d.second = Some(derive::second(&mut d, &wrt));
            }
        }
        attr::Macro::Jacobian => {
            d.jacobian = Some(derive::linearize(&mut d, &wrt));
        }
    }
    // Last: it adds nodes that generated code never reads.
    if matches!(d.options.kind, attr::Macro::Gradient) {
        let g = &mut d.body.graph;
        d.derivations = explain::gradients(g, d.body.output, &wrt, &names, &d.formulas);
        if let (Some(s), [Some(gr)], [name]) = (&d.second, d.gradients.as_slice(), names.as_slice())
        {
            d.derivations
                .extend(explain::hessian(&d.body.graph, wrt[0], *gr, s, name));
        }
    }
    if let Some(lin) = &d.jacobian {
        d.derivations = explain::jacobians(&d.body.graph, d.body.output, &wrt, &names, lin);
    }
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
    expand_with(attr::Macro::Gradient, attr, item)
}

/// The whole expansion of `#[jacobian(attr)] item`.
pub fn expand_jacobian(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_with(attr::Macro::Jacobian, attr, item)
}

/// How deeply groups (`( )`, `[ ]`, `{ }`) may nest in the input: syn parses recursively, and
/// past a few hundred levels it would run out of stack, which aborts the compiler.
const MAX_NESTING: usize = 128;

/// The deepest nesting of groups in a token stream, found without recursion.
fn nesting(ts: &TokenStream) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(proc_macro2::token_stream::IntoIter, usize)> =
        vec![(ts.clone().into_iter(), 0)];
    while let Some((mut iter, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        if let Some(tt) = iter.next() {
            stack.push((iter, depth));
            if let proc_macro2::TokenTree::Group(g) = tt {
                if depth + 1 > MAX_NESTING {
                    return depth + 1;
                }
                stack.push((g.stream().into_iter(), depth + 1));
            }
        }
    }
    deepest
}

fn expand_with(kind: attr::Macro, attr: TokenStream, item: TokenStream) -> TokenStream {
    if nesting(&item) > MAX_NESTING || nesting(&attr) > MAX_NESTING {
        let msg = format!(
            "#[{}]: this item nests brackets more than {MAX_NESTING} levels deep, more than matgrad reads; split the expression into `let` bindings",
            kind.name()
        );
        let mut out = quote::quote!(::core::compile_error!(#msg););
        out.extend(item);
        return out;
    }
    match derive_with(kind, attr, item.clone()) {
        Ok(d) => expand::items(&d),
        Err(failure) => {
            let (err, function, options) = *failure;
            let mut out = err.to_compile_error();
            match &function {
                Some(f) => {
                    out.extend(quote::quote!(#[allow(clippy::all)]));
                    let item = &f.item;
                    out.extend(quote::quote!(#item));
                    out.extend(expand::stand_ins(kind, f, options.as_ref()));
                }
                None => out.extend(item),
            }
            out
        }
    }
}

#[cfg(test)]
mod tests;
