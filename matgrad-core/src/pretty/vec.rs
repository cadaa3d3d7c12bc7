//! Linear maps as matrices: the vec/Kronecker rules of seed 004 that turn a differential dF,
//! linear in the direction dX, into its Jacobian ∂vec(F)/∂vec(X)ᵀ (numerator layout).

use super::render::subscript;
use super::tree::{ones, product, sum, transpose, Kind, Term, E};

pub(super) fn mentions(e: &E, name: &str) -> bool {
    match e {
        E::Name(n, _) => n == name,
        E::Num(_) => false,
        E::Sum(ts) => ts
            .iter()
            .any(|t| t.scalars.iter().chain(&t.chain).any(|f| mentions(f, name))),
        E::T(x)
        | E::Inv(x)
        | E::Pow(x, _)
        | E::NormSq(x)
        | E::Norm(x)
        | E::Entry(x, _)
        | E::MatPow(x, _) => mentions(x, name),
        E::Call(_, xs) => xs.iter().any(|x| mentions(x, name)),
        E::Had(a, b) | E::HadDiv(a, b) | E::Kron(a, b) | E::Div(a, b) | E::Dot(a, b) => {
            mentions(a, name) || mentions(b, name)
        }
    }
}

pub(super) fn identity() -> E {
    E::Name("I".into(), Kind::Matrix)
}

pub(super) fn chain_of(factors: &[E]) -> Option<E> {
    if factors.is_empty() {
        return None;
    }
    Some(
        Term {
            coef: 1.0,
            scalars: vec![],
            chain: factors.to_vec(),
        }
        .into_e(),
    )
}

/// A product of Jacobian factors, dropping identities.
pub(super) fn then(a: E, b: E) -> E {
    match (a == identity(), b == identity()) {
        (true, _) => b,
        (_, true) => a,
        _ => product(a, b),
    }
}

/// The Jacobian of `e`, an expression linear in the direction `dir`.
pub(super) fn vectorize(e: &E, dir: &str, dir_kind: Kind) -> Option<E> {
    let vector_dir = matches!(dir_kind, Kind::Col | Kind::Row | Kind::Scalar);
    match e {
        E::Name(n, _) if n == dir => Some(identity()),
        // vec(dXᵀ) = K vec(dX); for a vector, vec(dxᵀ) = vec(dx).
        E::T(x) if matches!(&**x, E::Name(n, _) if n == dir) => Some(if vector_dir {
            identity()
        } else {
            E::Name("K".into(), Kind::Matrix)
        }),
        E::Sum(ts) => {
            let mut acc: Option<E> = None;
            for t in ts {
                let j = vectorize_term(t, dir, dir_kind)?;
                acc = Some(match acc {
                    None => j,
                    Some(a) => sum(a, j),
                });
            }
            acc
        }
        // vec(a ⊙ dX) = diag(vec a) vec(dX)
        E::Had(a, b) => {
            let (fixed, var) = if mentions(b, dir) { (a, b) } else { (b, a) };
            if mentions(fixed, dir) {
                return None;
            }
            let jv = vectorize(var, dir, dir_kind)?;
            Some(then(diag(fixed), jv))
        }
        E::HadDiv(x, a) if !mentions(a, dir) => {
            let jx = vectorize(x, dir, dir_kind)?;
            let recip = E::HadDiv(Box::new(E::Name("1".into(), Kind::Scalar)), a.clone());
            Some(then(diag(&recip), jx))
        }
        E::Div(x, s) if !mentions(s, dir) => {
            let jx = vectorize(x, dir, dir_kind)?;
            Some(product(E::Div(Box::new(E::Num(1.0)), s.clone()), jx))
        }
        // d tr(X) = tr(dX) = vec(I)ᵀ vec(dX)
        E::Call(f, xs) if f == "tr" && xs.len() == 1 => {
            let jx = vectorize(&xs[0], dir, dir_kind)?;
            Some(product(
                E::T(Box::new(E::Call("vec".into(), vec![identity()]))),
                jx,
            ))
        }
        // d sum(X) = 1ᵀ vec(dX), 1 the vector of ones
        E::Call(f, xs) if f == "sum" && xs.len() == 1 => {
            let jx = vectorize(&xs[0], dir, dir_kind)?;
            Some(product(transpose(ones()), jx))
        }
        // d[s₀; s₁; ..] stacks the rows ds₀, ds₁, ..
        E::Call(f, parts) if f == "[;]" => {
            let rows = parts
                .iter()
                .map(|p| {
                    if mentions(p, dir) {
                        vectorize(p, dir, dir_kind)
                    } else {
                        Some(E::Num(0.0))
                    }
                })
                .collect::<Option<Vec<E>>>()?;
            Some(E::Call("[;]".into(), rows))
        }
        // d x[k] = e_kᵀ dx for a vector, d X[i, j] = vec(E_ij)ᵀ vec(dX) for a matrix
        E::Entry(x, idx) if mentions(x, dir) => {
            let jx = vectorize(x, dir, dir_kind)?;
            let selector = if idx.contains(',') {
                E::T(Box::new(E::Call(
                    "vec".into(),
                    vec![E::Name(format!("E[{idx}]"), Kind::Matrix)],
                )))
            } else {
                E::Name(format!("e{}ᵀ", subscript(idx)), Kind::Row)
            };
            Some(then(selector, jx))
        }
        // d⟨a, X⟩ = vec(a)ᵀ vec(dX)
        E::Dot(a, x) | E::Dot(x, a) if !mentions(a, dir) && mentions(x, dir) => {
            let jx = vectorize(x, dir, dir_kind)?;
            Some(product(
                E::T(Box::new(E::Call("vec".into(), vec![(**a).clone()]))),
                jx,
            ))
        }
        _ => None,
    }
}

pub(super) fn diag(a: &E) -> E {
    let arg = if matches!(a.kind(), Kind::Col | Kind::Row | Kind::Scalar) {
        a.clone()
    } else {
        E::Call("vec".into(), vec![a.clone()])
    };
    E::Call("diag".into(), vec![arg])
}

pub(super) fn vectorize_term(t: &Term, dir: &str, dir_kind: Kind) -> Option<E> {
    let coef = E::Num(t.coef);
    let in_scalars: Vec<usize> = (0..t.scalars.len())
        .filter(|&i| mentions(&t.scalars[i], dir))
        .collect();
    let in_chain: Vec<usize> = (0..t.chain.len())
        .filter(|&i| mentions(&t.chain[i], dir))
        .collect();
    let other_scalars: Vec<E> = t
        .scalars
        .iter()
        .enumerate()
        .filter(|(i, _)| !in_scalars.contains(i))
        .map(|(_, s)| s.clone())
        .collect();
    let scale = |e: E| {
        other_scalars
            .iter()
            .cloned()
            .fold(product(coef.clone(), e), |acc, s| product(s, acc))
    };
    match (in_scalars.as_slice(), in_chain.as_slice()) {
        // A scalar differential times a constant chain C: vec(C) · ds.
        ([i], []) => {
            let js = vectorize(&t.scalars[*i], dir, dir_kind)?;
            let j = match chain_of(&t.chain) {
                Some(c) if matches!(c.kind(), Kind::Col) => then(c, js),
                Some(c) => then(E::Call("vec".into(), vec![c]), js),
                None => js,
            };
            Some(scale(j))
        }
        // vec(L F R) = (Rᵀ ⊗ L) vec(F)
        ([], [i]) => {
            let f = &t.chain[*i];
            let jf = vectorize(f, dir, dir_kind)?;
            let (l, r) = (chain_of(&t.chain[..*i]), chain_of(&t.chain[*i + 1..]));
            let fk = f.kind();
            let kron = match (r, l) {
                (None, None) => None,
                (None, Some(l)) if fk == Kind::Col || fk == Kind::Scalar => Some(l),
                (None, Some(l)) => Some(E::Kron(Box::new(identity()), Box::new(l))),
                (Some(r), None) if fk == Kind::Row || fk == Kind::Scalar => Some(transpose(r)),
                (Some(r), None) => Some(E::Kron(Box::new(transpose(r)), Box::new(identity()))),
                (Some(r), Some(l)) => Some(E::Kron(Box::new(transpose(r)), Box::new(l))),
            };
            let j = match kron {
                Some(k) => then(k, jf),
                None => jf,
            };
            Some(scale(j))
        }
        _ => None,
    }
}
