//! The engine behind `#[gradient]` and `#[jacobian]`: an ordinary library, testable without
//! compiling user code. `docs/ARCHITECTURE.md` in the repository is the map; this is the
//! pipeline, with the type each phase hands to the next (`derive_with` below is the code):
//!
//! ```text
//! attr::parse          attribute tokens ─→ Options
//! front::parse         item tokens ─→ Function (parameters, types, variables)
//! front::lower         Function ─→ Body: the expression graph (ir), shapes unified as nodes are
//!                      built (shape), algebra applied by the smart constructors (simplify, structure)
//! valid::function      the options checked against the Function
//! differentiate        Body ─→ Derived: grad::reverse / grad::forward over the rules (rules),
//!                      derive::second (HVPs), derive::linearize + batched (Jacobians); pretty
//!                      prints the formulas
//! valid::derived       the options checked against the derivatives ─→ Solvers
//! cx.check()?          every error above, reported together ─→ Derivation
//! expand::items        Derivation ─→ tokens, through emit (nalgebra code)
//! ```
//!
//! Every user error is a `syn::Error` spanned on the user's tokens, reported to the `Ctxt` by the
//! phases before `cx.check()`; nothing after it can fail.

pub mod attr;
mod batched;
pub mod ctxt;
mod derivation;
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
mod text;
pub mod valid;

use proc_macro2::TokenStream;

use ctxt::Ctxt;
pub use derivation::{Derivation, Derived, Gradient, Jacobian, Linear, Second};
use front::{Body, Function};
use ir::NodeId;

/// What `derive` returns on error: the combined errors and, if the item was a function, the
/// function and the attribute's options as far as they were read (so that the expansion can
/// still emit the function and stand-ins for everything the attribute would have added).
pub type Failure = Box<(syn::Error, Option<Function>, Option<attr::Options>)>;

/// Why the pipeline gave no derivation.
pub enum Stop {
    /// Errors in the function or the attribute.
    Failed(Failure),
    /// The body calls a function on the active path that may be a `#[differentiable]` helper
    /// whose body matgrad has not read yet: expansion asks for it (`front/helpers.rs`).
    NeedsHelper(syn::Path),
}

/// Parse, check and differentiate.
pub fn derive(attr: TokenStream, item: TokenStream) -> Result<Derivation, Failure> {
    derive_with(attr::Macro::Gradient, attr, item)
}

/// The pipeline without helpers: a call of another function on the active path is an error
/// that names `#[differentiable]`.
pub fn derive_with(
    kind: attr::Macro,
    attr: TokenStream,
    item: TokenStream,
) -> Result<Derivation, Failure> {
    match derive_with_helpers(kind, attr, item, &[]) {
        Ok(d) => Ok(d),
        Err(Stop::Failed(f)) => Err(f),
        Err(Stop::NeedsHelper(path)) => {
            let name = quote::ToTokens::to_token_stream(&path)
                .to_string()
                .replace(' ', "");
            let e = syn::Error::new_spanned(
                &path,
                format!("matgrad cannot differentiate the call of `{name}`, which it cannot read: mark `{name}` with `#[matgrad::differentiable]`, so that matgrad reads its body where it is called, or pass it only constants"),
            );
            Err(Box::new((e, None, None)))
        }
    }
}

/// The pipeline, for either attribute: parse, read in the helpers, lower, validate the options
/// against the function, differentiate a valid body, validate what needs the derivatives, and
/// only then check for errors. Everything after `cx.check()` is infallible.
pub fn derive_with_helpers(
    kind: attr::Macro,
    attr: TokenStream,
    item: TokenStream,
    helpers: &[front::helpers::Helper],
) -> Result<Derivation, Stop> {
    let mut cx = Ctxt::new();
    let options = attr::parse(kind, attr, &mut cx);
    let Some(mut function) = front::parse(kind, item, options.as_ref(), &mut cx) else {
        let e = cx.check().err().unwrap_or_else(internal_error);
        return Err(Stop::Failed(Box::new((e, None, options))));
    };
    if !helpers.is_empty() {
        function.inlined = Some(front::helpers::inline(&function.item.block, helpers));
    }
    // A return type that does not fit would make every use of the value an error too.
    let mut missing = Vec::new();
    let body = if function.output_fits {
        front::lower(&function, &mut cx, &mut missing)
    } else {
        None
    };
    // Helpers are asked for once the body has no other mistake: those are reported now, and
    // the helper's own turn comes when they are fixed.
    if let (Some(path), false) = (missing.first(), cx.has_errors()) {
        let path = path.clone();
        let _ = cx.check();
        return Err(Stop::NeedsHelper(path));
    }
    let plans = options
        .as_ref()
        .and_then(|o| valid::function(&mut cx, &function, o));
    if let (Some(o), Some(body)) = (&options, &body) {
        if let (Some(span), true) = (o.checkpoint, body.graph.loops.is_empty()) {
            cx.error_at(
                span,
                "`checkpoint` trades the memory of the backward pass through a loop for recomputation, and this function has no loop on a path from a variable: remove `checkpoint`",
            );
        }
    }
    let valid = match (options, body, plans) {
        (Some(o), Some(body), Some(plans)) if !cx.has_errors() => {
            let (body, derived, derivations) = differentiate(&o, &function, body);
            let solvers = valid::derived(&mut cx, &function, &o, &body, &derived, plans);
            Ok((o, body, derived, derivations, solvers))
        }
        (options, ..) => Err(options),
    };
    if let Err(e) = cx.check() {
        let options = match valid {
            Ok((o, ..)) => Some(o),
            Err(o) => o,
        };
        return Err(Stop::Failed(Box::new((e, Some(function), options))));
    }
    match valid {
        Ok((options, body, derived, derivations, solvers)) => Ok(Derivation {
            options,
            function,
            body,
            derived,
            derivations,
            solvers,
        }),
        Err(options) => Err(Stop::Failed(Box::new((
            internal_error(),
            Some(function),
            options,
        )))),
    }
}

/// The derivatives the attribute asks for, of a valid body, and their derivations step by step.
fn differentiate(
    options: &attr::Options,
    function: &Function,
    mut body: Body,
) -> (Body, Derived, Vec<explain::Explained>) {
    let wrt: Vec<NodeId> = function
        .variables
        .iter()
        .map(|&i| body.param_nodes[i].unwrap_or(body.output))
        .collect();
    let names = function.variable_names();
    body.graph.checkpoint = options.checkpoint.is_some();
    let derived = match options.kind {
        attr::Macro::Gradient => {
            let seed = body.graph.lit(1.0);
            let g = &mut body.graph;
            let nodes = if g.is_active(body.output) {
                grad::reverse(g, body.output, seed, &wrt)
            } else {
                vec![None; wrt.len()]
            };
            // The derivative of a loop is its adjoint recurrence, given beside the formula.
            let formulas = nodes
                .iter()
                .map(|gr| {
                    let Some(n) = *gr else { return "0".into() };
                    let mut f = pretty::formula(&body.graph, n, &names);
                    for line in pretty::loops::recurrences(&body.graph, &[n], &names) {
                        f.push_str("\n  where ");
                        f.push_str(&line);
                    }
                    f
                })
                .collect();
            // `minimize` reads the Hessian-vector product to tell whether f is quadratic.
            let second = (options.hessian.is_some() || options.minimize.is_some())
                .then(|| derive::second(function, &mut body, &nodes, &wrt));
            Derived::Gradient(Gradient {
                nodes,
                formulas,
                second,
            })
        }
        attr::Macro::Jacobian => Derived::Jacobian(derive::linearize(function, &mut body, &wrt)),
    };
    // Last: it adds nodes that generated code never reads.
    let derivations = match &derived {
        Derived::Gradient(gr) => {
            let g = &mut body.graph;
            let mut steps = explain::gradients(g, body.output, &wrt, &names, &gr.formulas);
            if let (Some(s), [Some(n)], [name]) =
                (&gr.second, gr.nodes.as_slice(), names.as_slice())
            {
                steps.extend(explain::hessian(&body.graph, wrt[0], *n, s, name));
            }
            steps
        }
        Derived::Jacobian(lin) => explain::jacobians(&body.graph, body.output, &wrt, &names, lin),
    };
    (body, derived, derivations)
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

/// The user's function with its body replaced by one that is never reached, for a function in
/// which matgrad found an error: its signature stays, so that callers compile, but the body the
/// error is about is not compiled again — it would report the same mistake a second time (a
/// static shape conflict as some fifty lines of nalgebra trait errors) or report what matgrad
/// has already explained. An `impl Trait` return type needs the real body to fix the opaque
/// type, so such a function keeps it.
fn stand_in_function(item: &syn::ItemFn) -> TokenStream {
    struct Opaque(bool);
    impl<'a> syn::visit::Visit<'a> for Opaque {
        fn visit_type_impl_trait(&mut self, _: &'a syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut opaque = Opaque(false);
    syn::visit::Visit::visit_return_type(&mut opaque, &item.sig.output);
    if opaque.0 {
        return quote::quote!(#[allow(clippy::all)] #item);
    }
    let syn::ItemFn {
        attrs, vis, sig, ..
    } = item;
    let outer = attrs
        .iter()
        .filter(|a| matches!(a.style, syn::AttrStyle::Outer));
    let inner = attrs
        .iter()
        .filter(|a| matches!(a.style, syn::AttrStyle::Inner(_)));
    quote::quote! {
        #(#outer)*
        #[allow(unused_variables, unused_mut, unreachable_code, clippy::all)]
        #vis #sig {
            #(#inner)*
            ::core::unreachable!()
        }
    }
}

fn expand_with(kind: attr::Macro, attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_with_helpers(kind, attr, item, &[], true)
}

/// The expansion with the helpers read so far. `with_function`: whether to emit the function
/// itself (a later round of reading helpers has emitted it already).
pub(crate) fn expand_with_helpers(
    kind: attr::Macro,
    attr: TokenStream,
    item: TokenStream,
    helpers: &[front::helpers::Helper],
    with_function: bool,
) -> TokenStream {
    if nesting(&item) > MAX_NESTING || nesting(&attr) > MAX_NESTING {
        let msg = format!(
            "#[{}]: this item nests brackets more than {MAX_NESTING} levels deep, more than matgrad reads; split the expression into `let` bindings",
            kind.name()
        );
        let mut out = quote::quote!(::core::compile_error!(#msg););
        out.extend(item);
        return out;
    }
    match derive_with_helpers(kind, attr.clone(), item.clone(), helpers) {
        Ok(d) => expand::items(&d, with_function),
        Err(Stop::NeedsHelper(path)) => {
            let mut out = TokenStream::new();
            if with_function {
                out.extend(quote::quote!(#[allow(clippy::all)] #item));
            }
            out.extend(expand::helper::request(kind, &attr, &item, helpers, &path));
            out
        }
        Err(Stop::Failed(failure)) => {
            let (err, function, options) = *failure;
            let mut out = err.to_compile_error();
            match &function {
                Some(f) => {
                    if with_function {
                        out.extend(stand_in_function(&f.item));
                    }
                    out.extend(expand::stand_ins(kind, f, options.as_ref()));
                }
                None if with_function => out.extend(item),
                None => {}
            }
            out
        }
    }
}

/// The whole expansion of `#[differentiable] item`: the helper as written, and the macro that
/// hands its tokens to the functions that call it.
pub fn expand_differentiable(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::helper::define(attr, item)
}

/// The whole expansion of `#[matgrad::model] impl Type { .. }`: the block, and argmin's traits
/// for `Type` from its `#[gradient(wrt = w, argmin)]` method.
pub fn expand_model(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::model::expand(attr, item)
}

/// `matgrad::__derive_with! { kind (attr) (item) (path) { helper } .. }`: the expansion again,
/// with the helpers read so far.
pub fn expand_callback(input: TokenStream) -> TokenStream {
    match expand::helper::parse_callback(input) {
        Ok((kind, attr, item, helpers)) => expand_with_helpers(kind, attr, item, &helpers, false),
        Err(e) => e.to_compile_error(),
    }
}

#[cfg(test)]
mod tests;
