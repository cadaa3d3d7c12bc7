//! Formulas: a node of the graph, in the textbook form a person would write it.
//!
//! The graph is converted to a small tree, then put in a normal form: transposes are pushed
//! onto the leaves ((A B)ᵀ = Bᵀ Aᵀ), products are flattened into a scalar coefficient, scalar
//! factors and a chain of matrix factors, like terms are collected, and a factor common to the
//! right (or left) end of several terms is factored out: Aᵀ W + A W becomes (A + Aᵀ) W. The
//! formula printed is the gradient matgrad computes, rearranged only by these identities.
//!
//! The printer is split by sub-phase: `tree` (graph → expression tree), `normal` (the normal
//! form), `render` (text) and `vec` (the vec/Kronecker rules for Jacobians).

mod normal;
mod render;
mod tree;
mod vec;

use crate::ir::{Graph, NodeId, Op};

use normal::tidy;
use render::render;
use tree::{builder, kind_of};
use vec::vectorize;

/// The formula of a node, in textbook form. `vars` are the names of the variables, which read
/// best on the right of a product.
pub fn formula(g: &Graph, n: NodeId, vars: &[String]) -> String {
    let inline = formula_with(g, n, vars, false).0;
    if inline.chars().count() <= LONG_FORMULA || g.names.is_empty() {
        return inline;
    }
    // Too long to read inline: name the values the body named, as its author did, and define
    // them after the formula (dependencies first).
    let (main, mut pending) = formula_with(g, n, vars, true);
    let mut defined = std::collections::BTreeMap::new();
    while let Some(&m) = pending.iter().find(|m| !defined.contains_key(*m)) {
        let mut b = builder(g, vars, true);
        b.defining = Some(m);
        let text = match b.build(m) {
            Some(e) => render(&tidy(e, vars)),
            None => "(too long to print)".to_string(),
        };
        pending.extend(b.named);
        defined.insert(m, text);
    }
    let mut out = main;
    for (k, (m, text)) in defined.iter().enumerate() {
        let lead = if k == 0 { "\n  where " } else { "\n        " };
        let name = g.names.get(m).cloned().unwrap_or_default();
        out.push_str(&format!("{lead}{name} = {text}"));
    }
    out
}

/// Formulas longer than this (in characters) are printed with the body's own names.
const LONG_FORMULA: usize = 160;

fn formula_with(
    g: &Graph,
    n: NodeId,
    vars: &[String],
    by_name: bool,
) -> (String, std::collections::BTreeSet<NodeId>) {
    let mut b = builder(g, vars, by_name);
    let text = match b.build(n) {
        Some(e) => render(&tidy(e, vars)),
        None => "(a formula too long to print)".to_string(),
    };
    (text, b.named)
}

/// A short text for a node, for messages.
pub fn node_text(g: &Graph, n: NodeId) -> String {
    formula(g, n, &[])
}

/// Rust source text, spaced the way people write it: `x.nrows() as f64`, not `x . nrows () as f64`.
pub fn source_text(ts: &proc_macro2::TokenStream) -> String {
    use proc_macro2::{Delimiter, TokenTree};
    let mut out = String::new();
    let mut prev_joint_punct = false;
    let mut prev: Option<String> = None;
    for tt in ts.clone() {
        let (s, is_punct, joint) = match &tt {
            TokenTree::Group(g) => {
                let inner = source_text(&g.stream());
                let s = match g.delimiter() {
                    Delimiter::Parenthesis => format!("({inner})"),
                    Delimiter::Bracket => format!("[{inner}]"),
                    Delimiter::Brace => format!("{{ {inner} }}"),
                    Delimiter::None => inner,
                };
                (s, false, false)
            }
            TokenTree::Punct(p) => (
                p.as_char().to_string(),
                true,
                p.spacing() == proc_macro2::Spacing::Joint,
            ),
            TokenTree::Ident(i) => (i.to_string(), false, false),
            TokenTree::Literal(l) => (l.to_string(), false, false),
        };
        let tight_before = matches!(s.as_str(), "." | "," | ";" | ":" | "?")
            || (s.starts_with('(') || s.starts_with('['))
                && prev.as_deref().is_some_and(|p| {
                    p.chars().last().is_some_and(|c| {
                        c.is_alphanumeric() || c == '_' || c == ')' || c == ']' || c == '>'
                    })
                })
            || prev.as_deref() == Some(".")
            || prev.as_deref() == Some("&")
            || prev.as_deref() == Some("!")
            || (prev.as_deref() == Some("-") && out.len() == 1)
            || prev_joint_punct;
        let s_is_colon_path = s == ":" && prev.as_deref() == Some(":");
        if !out.is_empty() && !tight_before && !s_is_colon_path {
            out.push(' ');
        }
        out.push_str(&s);
        prev_joint_punct = is_punct && joint;
        prev = Some(s);
    }
    out.replace(" :: ", "::")
        .replace(": :", "::")
        .replace(":: ", "::")
}

// ---- linear maps ----------------------------------------------------------------------------------

/// The matrix of a linear map, in numerator layout: for `n` linear in the direction leaf `dir`
/// (dF as a function of dX), the Jacobian ∂vec(F)/∂vec(X)ᵀ, by seed 004's vec rules:
/// vec(L dX R) = (Rᵀ ⊗ L) vec(dX), vec(dXᵀ) = K vec(dX), vec(a ⊙ dX) = diag(vec a) vec(dX).
/// `None` where the differential has a form these rules do not cover.
pub fn jacobian_formula(g: &Graph, n: NodeId, dir: NodeId, vars: &[String]) -> Option<String> {
    let dir_name = match g.op(dir) {
        Op::Param(k) => g.params[*k].clone(),
        _ => return None,
    };
    let dir_kind = kind_of(g.ty(dir));
    let mut b = builder(g, vars, false);
    let e = tidy(b.build(n)?, vars);
    let j = vectorize(&e, &dir_name, dir_kind)?;
    Some(render(&tidy(j, vars)))
}
