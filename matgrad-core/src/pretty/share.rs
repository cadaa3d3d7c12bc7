//! Repeated subexpressions, named once: a formula that would repeat `exp(x w + 1 bᵀ)` reads
//! `… exp(z) … exp(z) … where z = x w + 1 bᵀ`. A subexpression the body named with `let` keeps
//! the author's name; others get a letter no other name of the formula uses.

use std::collections::{BTreeMap, BTreeSet};

use super::render::render;
use super::tree::{transpose, Kind, Term, E};

/// A formula and the definitions of the names it uses, dependencies first.
pub(super) struct Shared {
    pub(super) main: E,
    pub(super) defs: Vec<(String, E)>,
}

/// A subexpression the body named: its text in the formula's normal form, its name and tree.
pub(super) type BodyNames = BTreeMap<String, (String, Kind, E)>;

/// Body names are used for subexpressions at least this long (in characters) …
const MIN_BODY: usize = 6;
/// … letters for those whose naming saves at least this many characters.
const MIN_SAVED: usize = 14;
/// At most this many definitions are added.
const MAX_DEFS: usize = 10;
/// Formulas of more nodes than this are left as they are: counting their subexpressions costs
/// more than naming them helps (nobody reads them).
const MAX_NODES: usize = 800;

/// Name the subexpressions of `main` (and of `defs`) that occur more than once.
pub(super) fn share(
    main: E,
    defs: Vec<(String, E)>,
    body: &BodyNames,
    taken_in: &BTreeSet<String>,
) -> Shared {
    let size: usize = std::iter::once(&main)
        .chain(defs.iter().map(|(_, e)| e))
        .map(nodes)
        .sum();
    let mut out = Shared { main, defs };
    if size > MAX_NODES {
        return out;
    }
    let mut taken = BTreeSet::new();
    for t in taken_in {
        note(t, &mut taken);
    }
    for (name, e) in &out.defs {
        note(name, &mut taken);
        names_in(e, &mut taken);
    }
    names_in(&out.main, &mut taken);
    let mut added = Vec::new();
    while added.len() < MAX_DEFS {
        // Counted by reference: only the repetition chosen is cloned.
        let mut counts: BTreeMap<String, (usize, &E)> = BTreeMap::new();
        let sums: Vec<&E> = body
            .values()
            .map(|(_, _, e)| e)
            .filter(|e| is_sum(e))
            .collect();
        count_below(&out.main, &sums, &mut counts);
        for (_, e) in &out.defs {
            count_below(e, &sums, &mut counts);
        }
        for (_, e) in &added {
            count_below(e, &sums, &mut counts);
        }
        // The repetition whose naming saves the most text; the author's names first.
        let best = counts
            .iter()
            .filter(|(_, (k, _))| *k >= 2)
            .filter_map(|(text, (k, e))| {
                let len = text.chars().count();
                let by_body = body.get(text).filter(|_| len >= MIN_BODY);
                if by_body.is_none() && (len < MIN_BODY || (k - 1) * len < MIN_SAVED) {
                    return None;
                }
                // A Cholesky factor is L wherever it appears, as in the textbooks.
                let chol = matches!(e, E::Call(f, _) if f == "chol");
                let score = (k - 1) * len + if by_body.is_some() || chol { 10_000 } else { 0 };
                Some((score, text, *e))
            })
            .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)))
            .map(|(_, text, e)| (text.clone(), e.clone()));
        let Some((text, e)) = best else { break };
        let (name, kind) = match body.get(&text) {
            Some((n, k, _)) => (n.clone(), *k),
            _ => (fresh(&e, &taken), e.kind()),
        };
        note(&name, &mut taken);
        let to = E::Name(name.clone(), kind);
        out.main = replace(out.main, &e, &to);
        out.defs = std::mem::take(&mut out.defs)
            .into_iter()
            .map(|(n, d)| (n, replace(d, &e, &to)))
            .collect();
        added = added
            .into_iter()
            .map(|(n, d)| (n, replace(d, &e, &to)))
            .collect();
        added.push((name, e));
    }
    // A definition that uses another comes after it.
    let mut ordered: Vec<(String, E)> = Vec::new();
    let mut pending: Vec<(String, E)> = std::mem::take(&mut out.defs);
    pending.extend(added.into_iter().rev());
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|(_, e)| !pending.iter().any(|(other, _)| mentions_name(e, other)))
            .unwrap_or(0);
        ordered.push(pending.remove(ready));
    }
    out.defs = ordered;
    out
}

/// A letter for a new name, by the kind of value it names: L for a Cholesky factor, M, N, …
/// for matrices, u, v, … for vectors, c, s, … for scalars.
fn fresh(e: &E, taken: &BTreeSet<String>) -> String {
    let pool: &[&str] = match (e, e.kind()) {
        (E::Call(f, _), _) if f == "chol" => &["L", "M", "N", "P", "Q"],
        (_, Kind::Scalar) => &["c", "s", "t", "κ", "γ"],
        (_, Kind::Col | Kind::Row) => &["u", "v", "q", "r", "s"],
        (_, Kind::Matrix) => &["M", "N", "P", "Q", "R", "S", "T", "U"],
    };
    pool.iter()
        .find(|n| !taken.contains(&n.to_lowercase()))
        .map(|n| n.to_string())
        .unwrap_or_else(|| {
            (1..)
                .map(|k| format!("M{}", super::render::subscript(&k.to_string())))
                .find(|n| !taken.contains(&n.to_lowercase()))
                .unwrap_or_default()
        })
}

/// The direct subexpressions of `e`.
fn children(e: &E) -> Vec<&E> {
    match e {
        E::Name(..) | E::Num(_) => vec![],
        E::Sum(ts) => ts
            .iter()
            .flat_map(|t| t.scalars.iter().chain(&t.chain))
            .collect(),
        E::T(x)
        | E::Inv(x)
        | E::Pow(x, _)
        | E::MatPow(x, _)
        | E::NormSq(x)
        | E::Norm(x)
        | E::Entry(x, _) => {
            vec![x]
        }
        E::Call(_, xs) => xs.iter().collect(),
        E::Had(a, b) | E::HadDiv(a, b) | E::Kron(a, b) | E::Div(a, b) | E::Dot(a, b) => vec![a, b],
    }
}

/// Count the subexpressions strictly below `e`, by their text; a named sum counts where its
/// terms are some of the terms of a longer sum (x w + 1 bᵀ − m holds z = x w + 1 bᵀ).
fn count_below<'e>(e: &'e E, sums: &[&'e E], counts: &mut BTreeMap<String, (usize, &'e E)>) {
    for c in children(e) {
        if worth_a_name(c) {
            counts.entry(render(c)).or_insert((0, c)).0 += 1;
        }
        for s in sums {
            if *s != c && within_sum(c, s).is_some() {
                counts.entry(render(s)).or_insert((0, *s)).0 += 1;
            }
        }
        count_below(c, sums, counts);
    }
}

fn is_sum(e: &E) -> bool {
    matches!(e, E::Sum(ts) if ts.len() >= 2)
}

/// The terms of the sum `e` other than those of the sum `part`, if it has them all.
fn within_sum(e: &E, part: &E) -> Option<Vec<Term>> {
    let (E::Sum(ts), E::Sum(ps)) = (e, part) else {
        return None;
    };
    if ps.len() < 2 || ts.len() <= ps.len() {
        return None;
    }
    let mut rest = ts.clone();
    for p in ps {
        let i = rest.iter().position(|t| t == p)?;
        rest.remove(i);
    }
    Some(rest)
}

fn names_in(e: &E, out: &mut BTreeSet<String>) {
    if let E::Name(n, _) = e {
        note(n, out);
    }
    for c in children(e) {
        names_in(c, out);
    }
}

fn mentions_name(e: &E, name: &str) -> bool {
    matches!(e, E::Name(n, _) if n == name)
        || children(e).into_iter().any(|c| mentions_name(c, name))
}

/// `e` with every occurrence of `from` (and of its transpose) replaced by `to`.
fn replace(e: E, from: &E, to: &E) -> E {
    if e == *from {
        return to.clone();
    }
    if let Some(rest) = within_sum(&e, from) {
        let mut ts = vec![Term {
            coef: 1.0,
            scalars: vec![],
            chain: vec![to.clone()],
        }];
        ts.extend(rest);
        return replace(E::Sum(ts), from, to);
    }
    if let E::T(x) = &e {
        if **x == *from {
            return transpose(to.clone());
        }
    }
    let r = |x: Box<E>| Box::new(replace(*x, from, to));
    match e {
        E::Sum(ts) => E::Sum(
            ts.into_iter()
                .map(|t| Term {
                    coef: t.coef,
                    scalars: t
                        .scalars
                        .into_iter()
                        .map(|s| replace(s, from, to))
                        .collect(),
                    chain: t.chain.into_iter().map(|c| replace(c, from, to)).collect(),
                })
                .collect(),
        ),
        E::T(x) => E::T(r(x)),
        E::Inv(x) => E::Inv(r(x)),
        E::Pow(x, k) => E::Pow(r(x), k),
        E::MatPow(x, k) => E::MatPow(r(x), k),
        E::NormSq(x) => E::NormSq(r(x)),
        E::Norm(x) => E::Norm(r(x)),
        E::Entry(x, i) => E::Entry(r(x), i),
        E::Call(f, xs) => E::Call(f, xs.into_iter().map(|x| replace(x, from, to)).collect()),
        E::Had(a, b) => E::Had(r(a), r(b)),
        E::HadDiv(a, b) => E::HadDiv(r(a), r(b)),
        E::Kron(a, b) => E::Kron(r(a), r(b)),
        E::Div(a, b) => E::Div(r(a), r(b)),
        E::Dot(a, b) => E::Dot(r(a), r(b)),
        other => other,
    }
}

/// A name, and the letters it is made of (v_a is v and a, w1 is w), as names a new one must not
/// be mistaken for; case is ignored (M next to m reads as the same letter).
fn note(name: &str, out: &mut BTreeSet<String>) {
    out.insert(name.to_lowercase());
    for part in name.split(|c: char| !c.is_alphabetic()) {
        if !part.is_empty() {
            out.insert(part.to_lowercase());
        }
    }
}

/// Whether a subexpression may be named: not a name with a postfix (x⁻ᵀ reads as well as any
/// letter), nor a reciprocal 1/d (shown as a division of the product it stands in).
fn worth_a_name(e: &E) -> bool {
    let leaf = |x: &E| matches!(x, E::Name(..) | E::Num(_));
    match e {
        _ if leaf(e) => false,
        E::T(x) | E::Inv(x) | E::Pow(x, _) | E::MatPow(x, _) => {
            !leaf(x) && !matches!(&**x, E::Inv(y) | E::T(y) if leaf(y))
        }
        E::Div(n, _) => **n != E::Num(1.0),
        _ => true,
    }
}

fn nodes(e: &E) -> usize {
    1 + children(e).into_iter().map(nodes).sum::<usize>()
}
