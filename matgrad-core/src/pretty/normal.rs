//! The normal form: factors first, then the sums they stand in; like terms collected, a
//! scalar product spliced beside the vector it multiplies, a common end factored out, terms
//! sorted so that the simplest comes first.

use super::render::render_term_abs;
use super::tree::{collect, transpose, Kind, Term, E};

/// Put a tree in normal form: factors first, then the sums they stand in.
pub(super) fn tidy(e: E, v: &[String]) -> E {
    match e {
        E::Sum(ts) => {
            let ts: Vec<Term> = ts.into_iter().map(|t| tidy_term(t, v)).collect();
            let ts = collect(ts.into_iter().map(|t| splice(t, v)).collect());
            let ts = factor(ts, v);
            let mut ts = ts;
            sort_terms(&mut ts);
            match ts.len() {
                0 => E::Num(0.0),
                _ => {
                    let single = ts.len() == 1;
                    let e = E::Sum(ts);
                    if single {
                        if let E::Sum(mut v) = e {
                            return v.remove(0).into_e();
                        }
                        unreachable_e()
                    } else {
                        e
                    }
                }
            }
        }
        E::T(x) => transpose(tidy(*x, v)),
        E::Inv(x) => E::Inv(Box::new(tidy(*x, v))),
        E::Call(f, xs) => E::Call(f, xs.into_iter().map(|x| tidy(x, v)).collect()),
        E::Had(a, b) => E::Had(Box::new(tidy(*a, v)), Box::new(tidy(*b, v))),
        E::HadDiv(a, b) => E::HadDiv(Box::new(tidy(*a, v)), Box::new(tidy(*b, v))),
        E::Kron(a, b) => E::Kron(Box::new(tidy(*a, v)), Box::new(tidy(*b, v))),
        E::Div(a, b) => E::Div(Box::new(tidy(*a, v)), Box::new(tidy(*b, v))),
        E::Pow(a, k) => E::Pow(Box::new(tidy(*a, v)), k),
        E::NormSq(a) => E::NormSq(Box::new(tidy(*a, v))),
        E::Norm(a) => E::Norm(Box::new(tidy(*a, v))),
        E::Dot(a, b) => E::Dot(Box::new(tidy(*a, v)), Box::new(tidy(*b, v))),
        E::Entry(a, i) => E::Entry(Box::new(tidy(*a, v)), i),
        E::MatPow(a, k) => E::MatPow(Box::new(tidy(*a, v)), k),
        other => other,
    }
}

pub(super) fn unreachable_e() -> E {
    E::Num(f64::NAN)
}

pub(super) fn tidy_term(t: Term, v: &[String]) -> Term {
    let mut out = Term {
        coef: t.coef,
        scalars: vec![],
        chain: vec![],
    };
    for s in t.scalars {
        match tidy(s, v) {
            E::Num(c) => out.coef *= c,
            // A scalar that is a single product folds into this one.
            E::Sum(mut ts) if ts.len() == 1 && ts[0].chain.is_empty() => {
                let inner = ts.remove(0);
                out.coef *= inner.coef;
                out.scalars.extend(inner.scalars);
            }
            e => out.scalars.push(e),
        }
    }
    for c in t.chain {
        let c = match tidy(c, v) {
            // (A / s) in a product is A times the scalar 1/s, shown at the end: aᵀ(a x − b) / ‖a x − b‖
            E::Div(a, d) if d.is_scalar() && !a.is_scalar() => {
                out.scalars.push(E::Div(Box::new(E::Num(1.0)), d));
                *a
            }
            other => other,
        };
        match c {
            E::Num(c) => out.coef *= c,
            E::Sum(mut ts) if ts.len() == 1 => {
                let inner = ts.remove(0);
                out.coef *= inner.coef;
                out.scalars.extend(inner.scalars);
                out.chain.extend(inner.chain);
            }
            e if e.is_scalar() => out.scalars.push(e),
            e => out.chain.push(e),
        }
    }
    out
}

/// A scalar that is a product of vectors (uᵀv, 1×1) commutes with everything, so it moves
/// beside a column vector it can stand next to: (bᵀx) a = a bᵀ x, and (aᵀx) b = b aᵀ x. Its
/// own orientation puts a variable on the right: xᵀb = bᵀx. This is how (a bᵀ + b aᵀ) x comes
/// about.
pub(super) fn splice(mut t: Term, v: &[String]) -> Term {
    let is_var = |e: &E| matches!(e, E::Name(n, _) if v.contains(n));
    let orient = |seg: Vec<E>| -> Vec<E> {
        let first_var = seg
            .first()
            .is_some_and(|e| is_var(e) || matches!(e, E::T(x) if is_var(x)));
        let last_var = seg.last().is_some_and(is_var);
        if first_var && !last_var {
            seg.into_iter().rev().map(transpose).collect()
        } else {
            seg
        }
    };
    // A scalar factor uᵀv after a chain that ends in a column vector.
    if t.chain.last().is_some_and(|e| e.kind() == Kind::Col) {
        let is_outer = |s: &E| matches!(s, E::Sum(ts) if ts.len() == 1 && ts[0].scalars.is_empty() && ts[0].chain.len() >= 2 && ts[0].coef == 1.0 && ts[0].chain[0].kind() == Kind::Row);
        if let Some(pos) = t.scalars.iter().position(is_outer) {
            if let E::Sum(mut ts) = t.scalars.remove(pos) {
                let inner = ts.remove(0);
                t.chain.extend(orient(inner.chain));
            }
        }
    }
    // A chain that starts with a 1×1 product, rᵀ … c, followed by a column vector.
    if t.chain.len() >= 3 && t.chain[0].kind() == Kind::Row {
        if let Some(end) = (1..t.chain.len() - 1).find(|&i| t.chain[i].kind() == Kind::Col) {
            if t.chain[end + 1].kind() == Kind::Col && t.chain.len() == end + 2 {
                let seg: Vec<E> = t.chain.drain(..=end).collect();
                t.chain.extend(orient(seg));
            }
        }
    }
    t
}

/// Factor a common right (or left) end out of several terms.
pub(super) fn factor(terms: Vec<Term>, v: &[String]) -> Vec<Term> {
    if terms.len() < 2 {
        return terms;
    }
    for from_right in [true, false] {
        // Group terms by their end factor, keeping first-seen order.
        let end = |t: &Term| -> Option<E> {
            if t.chain.len() < 2 {
                return None;
            }
            if from_right {
                t.chain.last().cloned()
            } else {
                t.chain.first().cloned()
            }
        };
        let mut groups: Vec<(E, Vec<usize>)> = Vec::new();
        for (i, t) in terms.iter().enumerate() {
            if let Some(e) = end(t) {
                match groups.iter_mut().find(|(k, _)| *k == e) {
                    Some((_, v)) => v.push(i),
                    None => groups.push((e, vec![i])),
                }
            }
        }
        let Some((_, members)) = groups.into_iter().find(|(_, v)| v.len() >= 2) else {
            continue;
        };
        // The longest common end of the group.
        let chains: Vec<&Vec<E>> = members.iter().map(|&i| &terms[i].chain).collect();
        let min_len = chains.iter().map(|c| c.len()).min().unwrap_or(0);
        let mut k = 0;
        while k + 1 < min_len {
            let pick = |c: &Vec<E>| {
                if from_right {
                    c[c.len() - 1 - k].clone()
                } else {
                    c[k].clone()
                }
            };
            let first = pick(chains[0]);
            if chains.iter().all(|c| pick(c) == first) {
                k += 1;
            } else {
                break;
            }
        }
        let common: Vec<E> = if from_right {
            chains[0][chains[0].len() - k..].to_vec()
        } else {
            chains[0][..k].to_vec()
        };
        let inner: Vec<Term> = members
            .iter()
            .map(|&i| {
                let t = &terms[i];
                let rest = if from_right {
                    t.chain[..t.chain.len() - k].to_vec()
                } else {
                    t.chain[k..].to_vec()
                };
                Term {
                    coef: t.coef,
                    scalars: t.scalars.clone(),
                    chain: rest,
                }
            })
            .collect();
        let inner = tidy(E::Sum(inner), v);
        let mut chain = Vec::new();
        if from_right {
            chain.push(inner);
            chain.extend(common);
        } else {
            chain.extend(common);
            chain.push(inner);
        }
        let factored = tidy_term(
            Term {
                coef: 1.0,
                scalars: vec![],
                chain,
            },
            v,
        );
        let mut rest: Vec<Term> = terms
            .iter()
            .enumerate()
            .filter(|(i, _)| !members.contains(i))
            .map(|(_, t)| t.clone())
            .collect();
        rest.insert(0, factored);
        return factor(rest, v);
    }
    terms
}

pub(super) fn sort_terms(ts: &mut [Term]) {
    ts.sort_by(|a, b| {
        let key = |t: &Term| (t.coef < 0.0, t.count_transposes(), render_term_abs(t));
        key(a).cmp(&key(b))
    });
}
