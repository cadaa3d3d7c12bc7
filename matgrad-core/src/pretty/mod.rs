//! Formulas: a node of the graph, in the textbook form a person would write it.
//!
//! The graph is converted to a small tree, then put in a normal form: transposes are pushed
//! onto the leaves ((A B)ᵀ = Bᵀ Aᵀ), products are flattened into a scalar coefficient, scalar
//! factors and a chain of matrix factors, like terms are collected, and a factor common to the
//! right (or left) end of several terms is factored out: Aᵀ W + A W becomes (A + Aᵀ) W. The
//! formula printed is the gradient matgrad computes, rearranged only by these identities.
//!
//! The printer is split by sub-phase: `tree` (graph → expression tree), `normal` (the normal
//! form), `share` (repeated subexpressions named once), `render` (text) and `vec` (the
//! vec/Kronecker rules for Jacobians).

mod katex;
mod latex;
pub mod loops;
mod normal;
mod render;
mod share;
mod tree;
mod vec;

use std::collections::{BTreeMap, BTreeSet};

use crate::ir::{Graph, NodeId, Op};

use normal::tidy;
use render::render;
use share::{share, BodyNames, Shared};
use tree::{builder, in_vec_form, kind_of, Kind, E};
use vec::vectorize;

/// The formula of a node, in textbook form. `vars` are the names of the variables, which read
/// best on the right of a product.
pub fn formula(g: &Graph, n: NodeId, vars: &[String]) -> String {
    formula_text(g, n, vars, true)
}

/// The formula of a node on as few lines as it allows, without naming repeated
/// subexpressions: for messages, where a `where` clause would not read.
pub fn inline_formula(g: &Graph, n: NodeId, vars: &[String]) -> String {
    formula_text(g, n, vars, false)
}

fn formula_text(g: &Graph, n: NodeId, vars: &[String], named: bool) -> String {
    match formula_tree(g, n, vars, named) {
        Some((f, main_text)) => with_definitions(main_text, &f, render),
        None => "(a formula too long to print)".to_string(),
    }
}

/// The formula of a node as a tree, with the definitions of the names it uses; and the main
/// formula's text where choosing the form rendered it already (most formulas), so that it is
/// not rendered twice.
fn formula_tree(
    g: &Graph,
    n: NodeId,
    vars: &[String],
    named: bool,
) -> Option<(Shared, Option<String>)> {
    let mut b = builder(g, vars, false);
    let inline = tidy(b.build(n)?, vars);
    // Only naming repeated subexpressions reads the names taken and the body's names.
    let inline = match named {
        true => share(
            inline,
            vec![],
            &body_names(g, &b.seen, vars),
            &taken_names(g, vars),
        ),
        false => Shared {
            main: inline,
            defs: vec![],
        },
    };
    let inline_text = render(&inline.main);
    if inline_text.chars().count() <= LONG_FORMULA || g.names.is_empty() {
        return Some((inline, Some(inline_text)));
    }
    // Too long to read inline: name the values the body named, as its author did, and define
    // them after the formula (dependencies first).
    let mut b = builder(g, vars, true);
    let main = tidy(b.build(n)?, vars);
    let mut pending = b.named;
    let mut defined = BTreeMap::new();
    while let Some(&m) = pending.iter().find(|m| !defined.contains_key(*m)) {
        let mut b = builder(g, vars, true);
        b.defining = Some(m);
        let e = match b.build(m) {
            Some(e) => tidy(e, vars),
            None => E::Name("(too long to print)".into(), Kind::Matrix),
        };
        pending.extend(b.named);
        defined.insert(m, e);
    }
    let defs = defined
        .into_iter()
        .map(|(m, e)| (g.names.get(&m).cloned().unwrap_or_default(), e))
        .collect();
    let shared = match named {
        true => share(main, defs, &BodyNames::new(), &taken_names(g, vars)),
        false => Shared { main, defs },
    };
    Some((shared, None))
}

/// The formula (`main_text`, rendered here if it was not), then `where name = …` for each
/// definition, one a line.
fn with_definitions(
    main_text: Option<String>,
    f: &Shared,
    render: impl Fn(&E) -> String,
) -> String {
    let mut out = main_text.unwrap_or_else(|| render(&f.main));
    for (k, (name, e)) in f.defs.iter().enumerate() {
        let lead = if k == 0 { "\n  where " } else { "\n        " };
        out.push_str(&format!("{lead}{name} = {}", render(e)));
    }
    out
}

/// Every name a formula of `g` may show, which new names must not repeat.
fn taken_names(g: &Graph, vars: &[String]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = vars.iter().cloned().collect();
    out.extend(g.params.iter().cloned());
    out.extend(g.names.values().cloned());
    out.extend(g.locals.iter().map(|l| l.text.clone()));
    out
}

/// The texts of the subexpressions the body named (in normal form), by which a repeated one
/// is recognised; the adjoints' names (∂f/∂z) are only for the long form.
fn body_names(g: &Graph, seen: &BTreeMap<NodeId, E>, vars: &[String]) -> BodyNames {
    let mut out = BodyNames::new();
    for (m, e) in seen {
        let Some(name) = g.names.get(m).filter(|n| !n.contains('∂')) else {
            continue;
        };
        let t = tidy(e.clone(), vars);
        let kind = t.kind();
        out.entry(render(&t)).or_insert((name.clone(), kind, t));
    }
    out
}

/// Formulas longer than this (in characters) are printed with the body's own names.
const LONG_FORMULA: usize = 160;

/// `lhs = formula` as LaTeX lines for KaTeX (`\frac{\partial f}{\partial w} = (a + a^\top) w`),
/// with a line `where …` for the names the formula defines; `lhs` as the text form writes
/// it (`∂f/∂w`).
pub fn formula_latex(g: &Graph, n: NodeId, vars: &[String], lhs: &str) -> Option<Vec<String>> {
    let (f, _) = formula_tree(g, n, vars, true)?;
    Some(equation_latex(lhs, &f))
}

fn equation_latex(lhs: &str, f: &Shared) -> Vec<String> {
    let mut lines = vec![format!("{} = {}", latex::name(lhs), latex::latex(&f.main))];
    if !f.defs.is_empty() {
        let defs: Vec<String> = f
            .defs
            .iter()
            .map(|(n, e)| format!("{} = {}", latex::name(n), latex::latex(e)))
            .collect();
        lines.push(format!(r"\text{{where }} {}", defs.join(r",\quad ")));
    }
    lines
}

/// `lhs = 0` as LaTeX, for a variable the function does not depend on.
pub fn zero_latex(lhs: &str) -> String {
    format!("{} = 0", latex::name(lhs))
}

pub use katex::typeset;

/// A number as formulas print it (−2, not -2).
pub fn number(c: f64) -> String {
    render::num(c)
}

/// A short text for a node, for messages.
pub fn node_text(g: &Graph, n: NodeId) -> String {
    inline_formula(g, n, &[])
}

pub use crate::text::source_text;

// ---- linear maps ----------------------------------------------------------------------------------

/// The matrix of a linear map, in numerator layout: for `n` linear in the direction leaf `dir`
/// (dF as a function of dX), the Jacobian ∂vec(F)/∂vec(X)ᵀ, by seed 004's vec rules:
/// vec(L dX R) = (Rᵀ ⊗ L) vec(dX), vec(dXᵀ) = K vec(dX), vec(a ⊙ dX) = diag(vec a) vec(dX).
/// `None` where the differential has a form these rules do not cover.
pub fn jacobian_formula(g: &Graph, n: NodeId, dir: NodeId, vars: &[String]) -> Option<String> {
    Some(with_definitions(
        None,
        &jacobian_tree(g, n, dir, vars)?,
        render,
    ))
}

/// The Jacobian of [`jacobian_formula`] as LaTeX lines, `lhs = …` (`lhs` as text writes it).
pub fn jacobian_formula_latex(
    g: &Graph,
    n: NodeId,
    dir: NodeId,
    vars: &[String],
    lhs: &str,
) -> Option<Vec<String>> {
    Some(equation_latex(lhs, &jacobian_tree(g, n, dir, vars)?))
}

fn jacobian_tree(g: &Graph, n: NodeId, dir: NodeId, vars: &[String]) -> Option<Shared> {
    let dir_name = match g.op(dir) {
        Op::Param(k) => g.params[*k].clone(),
        _ => return None,
    };
    let dir_kind = kind_of(g.ty(dir));
    let j = in_vec_form(|| {
        let mut b = builder(g, vars, false);
        let e = tidy(b.build(n)?, vars);
        vectorize(&e, &dir_name, dir_kind)
    })?;
    Some(share(
        tidy(j, vars),
        vec![],
        &BodyNames::new(),
        &taken_names(g, vars),
    ))
}
