//! The normal form: factors first, then the sums they stand in; like terms collected, a
//! scalar product spliced beside the vector it multiplies, a common end factored out, terms
//! sorted so that the simplest comes first.

use super::render::render_term_abs;
use super::tree::{collect, for_vec_rules, ones, product, transpose, Kind, Term, E};

/// Put a tree in normal form: factors first, then the sums they stand in.
pub(super) fn tidy(e: E, v: &[String]) -> E {
    match e {
        E::Sum(ts) => {
            let ts: Vec<Term> = ts.into_iter().map(|t| tidy_term(t, v)).collect();
            let ts = collect(ts.into_iter().map(|t| splice(t, v)).collect());
            let ts = factor(ts, v);
            let mut ts = ts;
            sort_terms(&mut ts);
            if let Some(e) = common_scalars(&ts) {
                return e;
            }
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
        E::Call(f, xs) => {
            let xs: Vec<E> = xs.into_iter().map(|x| tidy(x, v)).collect();
            // diag(c u) = c diag(u)
            if f == "diag" && xs.len() == 1 && xs[0].kind() == Kind::Col {
                if let Some((c, ss, u)) = scalar_part(&xs[0]) {
                    return tidy(scaled_by(c, ss, E::Call(f, vec![u])), v);
                }
            }
            E::Call(f, xs)
        }
        E::Had(a, b) => {
            let (a, b) = (tidy(*a, v), tidy(*b, v));
            // A broadcast is a row or column scaling: A ⊙ (u 1ᵀ) = diag(u) A, A ⊙ (1 uᵀ) = A diag(u).
            let pairs = if for_vec_rules() {
                vec![]
            } else {
                vec![(&a, &b), (&b, &a)]
            };
            for (m, o) in pairs {
                if let Some(u) = broadcast_column(o) {
                    return tidy(product(E::Call("diag".into(), vec![u]), m.clone()), v);
                }
                if let Some(u) = broadcast_row(o) {
                    return tidy(product(m.clone(), E::Call("diag".into(), vec![u])), v);
                }
            }
            // (c A) ⊙ B = c (A ⊙ B)
            match (scalar_part(&a), scalar_part(&b)) {
                (None, None) => E::Had(Box::new(a), Box::new(b)),
                (pa, pb) => {
                    let (ca, sa, a) = pa.unwrap_or((1.0, vec![], a));
                    let (cb, sb, b) = pb.unwrap_or((1.0, vec![], b));
                    let ss = sa.into_iter().chain(sb).collect();
                    tidy(scaled_by(ca * cb, ss, E::Had(Box::new(a), Box::new(b))), v)
                }
            }
        }
        E::HadDiv(a, b) => {
            let (a, b) = (tidy(*a, v), tidy(*b, v));
            let one = E::Name("1".into(), Kind::Scalar);
            // A scalar over a vector is that scalar times the entrywise reciprocal: s ⊘ v = s (1 ⊘ v);
            // and (c A) ⊘ B = c (A ⊘ B).
            if a.is_scalar() && a != one && !b.is_scalar() {
                return tidy(product(a, E::HadDiv(Box::new(one), Box::new(b))), v);
            }
            match scalar_part(&a) {
                Some((c, ss, a)) => tidy(scaled_by(c, ss, E::HadDiv(Box::new(a), Box::new(b))), v),
                None => E::HadDiv(Box::new(a), Box::new(b)),
            }
        }
        E::Kron(a, b) => E::Kron(Box::new(tidy(*a, v)), Box::new(tidy(*b, v))),
        E::Div(a, b) => {
            let (a, b) = (tidy(*a, v), tidy(*b, v));
            // A / s = (1/s) A: a product, which can be taken apart and collected.
            if !a.is_scalar() && b.is_scalar() {
                return tidy(product(E::Div(Box::new(E::Num(1.0)), Box::new(b)), a), v);
            }
            E::Div(Box::new(a), Box::new(b))
        }
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
            // c / d is c times 1/d, shown as a division of the whole product: 2 xᵀ r / n
            E::Div(c, d) if matches!(*c, E::Num(_)) && *c != E::Num(1.0) => {
                if let E::Num(c) = *c {
                    out.coef *= c;
                }
                out.scalars.push(E::Div(Box::new(E::Num(1.0)), d));
            }
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
    // Each term's key once, not once per comparison: it renders the whole term. (Stable, as
    // `sort_by` is: equal keys keep their order.)
    ts.sort_by_cached_key(|t| (t.coef < 0.0, t.count_transposes(), render_term_abs(t)));
}

/// A product with a scalar part, split: c s₁ s₂ … M as (c, [s₁, s₂, …], M). `None` for an
/// expression with no coefficient or scalar factor to take out (or nothing else).
fn scalar_part(e: &E) -> Option<(f64, Vec<E>, E)> {
    match e {
        E::Sum(ts)
            if ts.len() == 1
                && !ts[0].chain.is_empty()
                && (ts[0].coef != 1.0 || !ts[0].scalars.is_empty()) =>
        {
            let t = &ts[0];
            let rest = Term {
                coef: 1.0,
                scalars: vec![],
                chain: t.chain.clone(),
            };
            Some((t.coef, t.scalars.clone(), rest.into_e()))
        }
        _ => None,
    }
}

fn scaled_by(c: f64, scalars: Vec<E>, e: E) -> E {
    let t = Term {
        coef: c,
        scalars,
        chain: vec![],
    };
    product(t.into_e(), e)
}

/// u for a broadcast column u 1ᵀ (scalar factors included in u).
fn broadcast_column(e: &E) -> Option<E> {
    let E::Sum(ts) = e else { return None };
    let [t] = ts.as_slice() else { return None };
    let [u, one_t] = t.chain.as_slice() else {
        return None;
    };
    let is_ones_row = matches!(one_t, E::T(x) if **x == ones());
    (is_ones_row && u.kind() == Kind::Col).then(|| {
        Term {
            coef: t.coef,
            scalars: t.scalars.clone(),
            chain: vec![u.clone()],
        }
        .into_e()
    })
}

/// u for a broadcast row 1 uᵀ (scalar factors included in u).
fn broadcast_row(e: &E) -> Option<E> {
    let E::Sum(ts) = e else { return None };
    let [t] = ts.as_slice() else { return None };
    let [one, r] = t.chain.as_slice() else {
        return None;
    };
    (*one == ones() && r.kind() == Kind::Row).then(|| {
        Term {
            coef: t.coef,
            scalars: t.scalars.clone(),
            chain: vec![transpose(r.clone())],
        }
        .into_e()
    })
}

/// A scalar factor that every term of a sum has, taken out: a/n − b/n = (a − b)/n.
fn common_scalars(ts: &[Term]) -> Option<E> {
    if ts.len() < 2 {
        return None;
    }
    let common: Vec<E> = ts[0]
        .scalars
        .iter()
        .filter(|s| ts[1..].iter().all(|t| t.scalars.contains(s)))
        .cloned()
        .collect();
    if common.is_empty() {
        return None;
    }
    let rest: Vec<Term> = ts
        .iter()
        .map(|t| {
            let mut t = t.clone();
            for c in &common {
                if let Some(i) = t.scalars.iter().position(|s| s == c) {
                    t.scalars.remove(i);
                }
            }
            t
        })
        .collect();
    Some(scaled_by(1.0, common, E::Sum(rest)))
}
