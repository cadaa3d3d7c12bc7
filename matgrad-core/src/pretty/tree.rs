//! The formula tree: the graph, read into a small expression tree `E` of sums of products
//! (`Term`: a coefficient, scalar factors and a chain of matrix factors), built with smart
//! constructors that already push transposes onto the leaves and collect like terms.

use super::render::{paren, render, sub_text};
use crate::ir::{Func, Graph, Index, NodeId, Op, Part};
use crate::shape::{Dim, Ty};

/// What a value is, for the rules that care (transposing a scalar, splicing a product).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Kind {
    Scalar,
    Col,
    Row,
    Matrix,
}

impl Kind {
    pub(super) fn transposed(self) -> Kind {
        match self {
            Kind::Col => Kind::Row,
            Kind::Row => Kind::Col,
            k => k,
        }
    }
}

/// A product: coefficient × scalar factors × a chain of matrix factors (in order).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Term {
    pub(super) coef: f64,
    pub(super) scalars: Vec<E>,
    pub(super) chain: Vec<E>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum E {
    Name(String, Kind),
    Num(f64),
    /// A sum of products; never a single product with coefficient 1 and one factor.
    Sum(Vec<Term>),
    T(Box<E>),
    Inv(Box<E>),
    /// A function of its arguments: tr, det, sum, exp, …
    Call(String, Vec<E>),
    Had(Box<E>, Box<E>),
    HadDiv(Box<E>, Box<E>),
    Kron(Box<E>, Box<E>),
    Div(Box<E>, Box<E>),
    Pow(Box<E>, String),
    /// A matrix power xᵏ (not entrywise).
    MatPow(Box<E>, u32),
    NormSq(Box<E>),
    Norm(Box<E>),
    Dot(Box<E>, Box<E>),
    Entry(Box<E>, String),
}

pub(super) fn kind_of(ty: Ty) -> Kind {
    match ty {
        Ty::Matrix(s) if s.cols == Dim::Fixed(1) && s.rows == Dim::Fixed(1) => Kind::Scalar,
        Ty::Matrix(s) if s.cols == Dim::Fixed(1) => Kind::Col,
        Ty::Matrix(s) if s.rows == Dim::Fixed(1) => Kind::Row,
        Ty::Matrix(_) => Kind::Matrix,
        _ => Kind::Scalar,
    }
}

impl E {
    pub(super) fn is_scalar(&self) -> bool {
        match self {
            E::Name(_, k) => *k == Kind::Scalar,
            E::Num(_) | E::NormSq(_) | E::Norm(_) | E::Dot(..) | E::Entry(..) => true,
            E::Sum(ts) => ts.iter().all(|t| t.chain.is_empty()),
            E::Call(name, args) => {
                name != "[;]"
                    && (matches!(name.as_str(), "tr" | "det" | "sum")
                        || (matches!(name.as_str(), "max" | "min") && args.len() == 1)
                        || args.iter().all(E::is_scalar))
            }
            E::T(x) | E::Inv(x) | E::Pow(x, _) | E::MatPow(x, _) => x.is_scalar(),
            E::Had(a, b) | E::HadDiv(a, b) | E::Kron(a, b) => a.is_scalar() && b.is_scalar(),
            E::Div(a, _) => a.is_scalar(),
        }
    }

    pub(super) fn kind(&self) -> Kind {
        match self {
            _ if self.is_scalar() => Kind::Scalar,
            E::Name(_, k) => *k,
            E::T(x) => x.kind().transposed(),
            // the kind of a term that is not a constant (1 + x is a vector for a vector x)
            E::Sum(ts) => ts
                .iter()
                .find(|t| !t.chain.is_empty())
                .or(ts.first())
                .map(Term::kind)
                .unwrap_or(Kind::Matrix),
            E::Inv(_) | E::Kron(..) | E::MatPow(..) => Kind::Matrix,
            E::Call(f, _) if f == "[;]" || f == "cross" || f == "vec" => Kind::Col,
            // diag(A) is the column of A's diagonal, diag(v) the matrix with v on its diagonal.
            E::Call(f, args) if f == "diag" => match args.first().map(E::kind) {
                Some(Kind::Col) => Kind::Matrix,
                _ => Kind::Col,
            },
            E::Call(_, args) => args.first().map(E::kind).unwrap_or(Kind::Matrix),
            // s ⊘ v has the kind of v
            E::Had(a, b) | E::HadDiv(a, b) if a.is_scalar() => b.kind(),
            E::Had(a, _) | E::HadDiv(a, _) | E::Div(a, _) | E::Pow(a, _) => a.kind(),
            _ => Kind::Matrix,
        }
    }

    pub(super) fn term(self) -> Term {
        match self {
            E::Num(c) => Term {
                coef: c,
                scalars: vec![],
                chain: vec![],
            },
            E::Sum(mut ts) if ts.len() == 1 => ts.remove(0),
            e if e.is_scalar() => Term {
                coef: 1.0,
                scalars: vec![e],
                chain: vec![],
            },
            e => Term {
                coef: 1.0,
                scalars: vec![],
                chain: vec![e],
            },
        }
    }

    pub(super) fn count_transposes(&self) -> usize {
        match self {
            E::T(x) => 1 + x.count_transposes(),
            E::Sum(ts) => ts.iter().map(Term::count_transposes).sum(),
            E::Inv(x)
            | E::Pow(x, _)
            | E::NormSq(x)
            | E::Norm(x)
            | E::Entry(x, _)
            | E::MatPow(x, _) => x.count_transposes(),
            E::Call(_, xs) => xs.iter().map(E::count_transposes).sum(),
            E::Had(a, b) | E::HadDiv(a, b) | E::Kron(a, b) | E::Div(a, b) | E::Dot(a, b) => {
                a.count_transposes() + b.count_transposes()
            }
            E::Name(..) | E::Num(_) => 0,
        }
    }
}

impl Term {
    pub(super) fn kind(&self) -> Kind {
        match (self.chain.first(), self.chain.last()) {
            (Some(f), Some(l)) => match (f.kind(), l.kind()) {
                (Kind::Row | Kind::Scalar, Kind::Col | Kind::Scalar) if self.chain.len() > 1 => {
                    Kind::Scalar
                }
                (Kind::Row, _) => Kind::Row,
                (_, Kind::Col) => Kind::Col,
                (k, _) if self.chain.len() == 1 => k,
                _ => Kind::Matrix,
            },
            _ => Kind::Scalar,
        }
    }

    pub(super) fn into_e(self) -> E {
        if self.coef == 1.0 && self.scalars.len() + self.chain.len() == 1 {
            return self
                .scalars
                .into_iter()
                .chain(self.chain)
                .next()
                .unwrap_or(E::Num(1.0));
        }
        if self.scalars.is_empty() && self.chain.is_empty() {
            return E::Num(self.coef);
        }
        E::Sum(vec![self])
    }

    pub(super) fn count_transposes(&self) -> usize {
        self.scalars
            .iter()
            .chain(&self.chain)
            .map(E::count_transposes)
            .sum()
    }

    pub(super) fn transposed(self) -> Term {
        let chain = self.chain.into_iter().rev().map(transpose).collect();
        Term {
            coef: self.coef,
            scalars: self.scalars,
            chain,
        }
    }
}

pub(super) fn product(a: E, b: E) -> E {
    let (x, y) = (a.term(), b.term());
    let mut scalars = x.scalars;
    scalars.extend(y.scalars);
    let mut chain = x.chain;
    chain.extend(y.chain);
    Term {
        coef: x.coef * y.coef,
        scalars,
        chain,
    }
    .into_e()
}

pub(super) fn scaled(c: f64, e: E) -> E {
    product(E::Num(c), e)
}

pub(super) fn sum(a: E, b: E) -> E {
    let mut terms = Vec::new();
    for e in [a, b] {
        match e {
            E::Sum(ts) => terms.extend(ts),
            other => terms.push(other.term()),
        }
    }
    let terms = collect(terms);
    match terms.len() {
        0 => E::Num(0.0),
        1 => terms
            .into_iter()
            .next()
            .map(Term::into_e)
            .unwrap_or(E::Num(0.0)),
        _ => E::Sum(terms),
    }
}

/// Add the coefficients of terms that differ only in their coefficient.
pub(super) fn collect(terms: Vec<Term>) -> Vec<Term> {
    let mut out: Vec<Term> = Vec::new();
    for t in terms {
        if t.coef == 0.0 {
            continue;
        }
        match out
            .iter_mut()
            .find(|o| o.scalars == t.scalars && o.chain == t.chain)
        {
            Some(o) => o.coef += t.coef,
            None => out.push(t),
        }
    }
    out.retain(|t| t.coef != 0.0);
    out
}

pub(super) fn transpose(e: E) -> E {
    if e.is_scalar() {
        return match e {
            // A 1×1 product written as a chain (aᵀ x) reads the same either way round.
            E::Sum(ts) => E::Sum(ts.into_iter().map(Term::transposed).collect()),
            other => other,
        };
    }
    match e {
        E::Name(ref n, _) if n == "I" || n == "J" || n == "0" => e,
        E::Name(n, k) => E::T(Box::new(E::Name(n, k))),
        E::T(x) => *x,
        // A product transposes factor by factor; a sum of several terms reads best as (a − b)ᵀ.
        E::Sum(ts) if ts.len() == 1 => E::Sum(ts.into_iter().map(Term::transposed).collect()),
        // (A ⊙ B)ᵀ = Aᵀ ⊙ Bᵀ, and likewise for ⊘, ⊗, a scalar divisor and an entrywise power:
        // the transpose goes inside only where that does not add transposes, so that a layer
        // reads tanh(W x)ᵀ, not tanh(xᵀ Wᵀ).
        e @ (E::Had(..) | E::HadDiv(..) | E::Kron(..) | E::Div(..) | E::Pow(..))
            if !pushes_in(&e) =>
        {
            E::T(Box::new(e))
        }
        E::Had(a, b) => E::Had(Box::new(transpose(*a)), Box::new(transpose(*b))),
        E::HadDiv(a, b) => E::HadDiv(Box::new(transpose(*a)), Box::new(transpose(*b))),
        E::Kron(a, b) => E::Kron(Box::new(transpose(*a)), Box::new(transpose(*b))),
        E::Div(a, b) => E::Div(Box::new(transpose(*a)), b),
        E::Pow(a, k) => E::Pow(Box::new(transpose(*a)), k),
        // Entrywise functions commute with transposition; structural ones do not.
        E::Call(f, args)
            if args.len() == 1
                && !matches!(
                    f.as_str(),
                    "tr" | "det" | "sum" | "[;]" | "vec" | "diag" | "chol" | "tril" | "triu" | "Φ"
                )
                && !f.starts_with("embed") =>
        {
            let e = E::Call(f, args);
            if !pushes_in(&e) {
                return E::T(Box::new(e));
            }
            match e {
                E::Call(f, args) => E::Call(f, args.into_iter().map(transpose).collect()),
                other => other,
            }
        }
        other => E::T(Box::new(other)),
    }
}

/// Builds formula trees from the graph. Shared nodes are expanded where they are used, up to a
/// budget that keeps a formula of a deep expression from growing without bound.
pub(super) struct Builder<'g> {
    pub(super) g: &'g Graph,
    pub(super) budget: usize,
    pub(super) depth: usize,
    pub(super) vars: Vec<String>,
    /// Show the nodes the body named with `let` by their names (except `defining`), and
    /// collect the ones shown.
    pub(super) by_name: bool,
    pub(super) defining: Option<NodeId>,
    pub(super) named: std::collections::BTreeSet<NodeId>,
    /// The trees of the named nodes met when not showing them by name, so that a repeated
    /// subexpression can be named as the body named it.
    pub(super) seen: std::collections::BTreeMap<NodeId, E>,
}

pub(super) const BUDGET: usize = 4000;
/// Formulas nested deeper than this are not printed (nobody could read them, and the passes
/// over the tree are recursive).
pub(super) const MAX_FORMULA_DEPTH: usize = 48;

impl Builder<'_> {
    pub(super) fn build(&mut self, n: NodeId) -> Option<E> {
        if self.budget == 0 || self.depth >= MAX_FORMULA_DEPTH {
            return None;
        }
        self.budget -= 1;
        // A loop's carried value at the end of an iteration is the next one's hₜ₊₁.
        if let Some(name) = super::loops::carry_out_name(self.g, n) {
            return Some(E::Name(name, kind_of(self.g.ty(n))));
        }
        if self.by_name && self.defining != Some(n) {
            if let Some(name) = self.g.names.get(&n) {
                self.named.insert(n);
                return Some(E::Name(name.clone(), kind_of(self.g.ty(n))));
            }
        }
        self.depth += 1;
        let out = self.build_inner(n);
        self.depth -= 1;
        if let (Some(e), false) = (&out, self.by_name) {
            if self.g.names.contains_key(&n) && !self.seen.contains_key(&n) {
                self.seen.insert(n, e.clone());
            }
        }
        out
    }

    pub(super) fn build_inner(&mut self, n: NodeId) -> Option<E> {
        let g = self.g;
        let args = g.args(n).to_vec();
        let ty = g.ty(n);
        let kind = kind_of(ty);
        let arg = |i: usize, s: &mut Self| -> Option<E> { s.build(args[i]) };
        let bx = |e: E| Box::new(e);
        Some(match g.op(n) {
            Op::Param(i) => E::Name(g.params[*i].clone(), kind),
            Op::Local(k) => E::Name(math_text(&g.locals[*k].text), kind),
            Op::Opaque(k) => E::Name(math_text(&g.opaque[*k].text), kind),
            Op::Lit(_) => E::Num(g.lit_value(n).unwrap_or(f64::NAN)),
            Op::Identity => E::Name("I".into(), Kind::Matrix),
            // the vector of ones is 1, the matrix of ones J
            Op::Ones if kind == Kind::Col => ones(),
            Op::Ones if kind == Kind::Row => transpose(ones()),
            Op::Ones => E::Name("J".into(), kind),
            Op::Zeros => E::Num(0.0),
            Op::Commutation { .. } => E::Name("K".into(), Kind::Matrix),
            // A loop's values (`ir/loops.rs`): the carried value at step t, the value after the
            // loop, and the adjoints its recurrence leaves (`pretty/loops.rs`).
            // The sum of an adjoint loop's contributions, Σₜ …, with the recurrence of its
            // carried adjoints given beside the formula (`pretty/loops.rs`).
            Op::LoopAdjoint { lp, arg } if super::loops::contribution(g, *lp, *arg).is_some() => {
                let c = super::loops::contribution(g, *lp, *arg)?;
                let t = &g.loops[*lp].header.index;
                E::Call(format!("Σ_{t}"), vec![self.build(c)?])
            }
            Op::Carry { .. } | Op::LoopOut { .. } | Op::LoopAdjoint { .. } => {
                E::Name(super::loops::name(g, n), kind)
            }
            Op::Reshape => E::Call("vec".into(), vec![arg(0, self)?]),
            Op::Neg => scaled(-1.0, arg(0, self)?),
            Op::Add => sum(arg(0, self)?, arg(1, self)?),
            Op::Sub => {
                let a = arg(0, self)?;
                let b = arg(1, self)?;
                sum(a, scaled(-1.0, b))
            }
            Op::Transpose => transpose(arg(0, self)?),
            Op::Trace => E::Call("tr".into(), vec![arg(0, self)?]),
            Op::Sum => E::Call("sum".into(), vec![arg(0, self)?]),
            Op::Entry(i, j) => {
                let a = arg(0, self)?;
                let one_by_one = g
                    .shape(args[0])
                    .is_some_and(|s| s.rows == Dim::Fixed(1) && s.cols == Dim::Fixed(1));
                if one_by_one {
                    a
                } else {
                    let a_is_vec = matches!(a.kind(), Kind::Col | Kind::Row);
                    let idx = if a_is_vec && (*i == Index::Lit(0) || *j == Index::Lit(0)) {
                        let k = if *i == Index::Lit(0) && a.kind() == Kind::Row {
                            j
                        } else {
                            i
                        };
                        index_text(k)
                    } else {
                        format!("{}, {}", index_text(i), index_text(j))
                    };
                    E::Entry(bx(a), idx)
                }
            }
            Op::Scatter(i, j) => {
                let s = arg(0, self)?;
                // The unit vector eₖ or the unit matrix Eᵢⱼ.
                let name = match kind {
                    Kind::Col => format!("e{}", sub_text(i)),
                    Kind::Row => format!("e{}ᵀ", sub_text(j)),
                    _ => format!("E{}{}", sub_text(i), sub_text(j)),
                };
                product(s, E::Name(name, kind))
            }
            Op::Triangle(part) => {
                let name = match part {
                    Part::Lower => "tril",
                    Part::Upper => "triu",
                    Part::LowerHalf => "Φ",
                };
                E::Call(name.into(), vec![arg(0, self)?])
            }
            Op::Diagonal | Op::FromDiagonal => E::Call("diag".into(), vec![arg(0, self)?]),
            // 1ᵀA, A1, 1r, c1ᵀ with 1 the vector of ones
            Op::RowSum => product(transpose(ones()), arg(0, self)?),
            Op::ColumnSum => product(arg(0, self)?, ones()),
            Op::RepeatRow => product(ones(), arg(0, self)?),
            Op::RepeatColumn => product(arg(0, self)?, transpose(ones())),
            Op::View(i, j) => {
                let a = arg(0, self)?;
                let s = g.shape(n)?;
                let range = |start: &Index, len: Dim| match (start, g.dims.known(len)) {
                    (k, Some(1)) => index_text(k),
                    (k, Some(m)) => match k {
                        Index::Lit(k0) => format!("{k0}..{}", k0 + m),
                        k => format!("{}..{}+{m}", index_text(k), index_text(k)),
                    },
                    (k, None) => format!("{}..", index_text(k)),
                };
                let (r, c) = (range(i, s.rows), range(j, s.cols));
                let whole_rows = *i == Index::Lit(0)
                    && g.shape(args[0])
                        .is_some_and(|p| g.dims.same(p.rows, s.rows));
                let whole_cols = *j == Index::Lit(0)
                    && g.shape(args[0])
                        .is_some_and(|p| g.dims.same(p.cols, s.cols));
                let text = match (whole_rows, whole_cols) {
                    (true, _) if kind_of(g.ty(args[0])) == Kind::Col => r,
                    (true, _) => format!(":, {c}"),
                    (_, true) => format!("{r}, :"),
                    _ => format!("{r}, {c}"),
                };
                E::Name(format!("{}[{text}]", paren(&a)), kind)
            }
            Op::Embed(i, j) => {
                let a = arg(0, self)?;
                let at = format!("embed₍{},{}₎", index_text(i), index_text(j));
                E::Call(at, vec![a])
            }
            Op::Cross => E::Call("cross".into(), vec![arg(0, self)?, arg(1, self)?]),
            Op::RowScale => {
                let (dv, x) = (arg(0, self)?, arg(1, self)?);
                product(E::Call("diag".into(), vec![dv]), x)
            }
            // T⁻¹B and T⁻ᵀB (T the triangle of t, a Cholesky factor in practice)
            Op::TriSolve { transpose: tr, .. } => {
                let (t, b) = (arg(0, self)?, arg(1, self)?);
                let inv = E::Inv(bx(t));
                let inv = if *tr { transpose(inv) } else { inv };
                product(inv, b)
            }
            Op::Cholesky => E::Call("chol".into(), vec![arg(0, self)?]),
            Op::Extremum { max } => {
                let name = if *max { "max" } else { "min" };
                E::Call(name.into(), vec![arg(0, self)?])
            }
            Op::ArgExtremum { max } => {
                let a = arg(0, self)?;
                E::Call(if *max { "[=max]" } else { "[=min]" }.into(), vec![a])
            }
            Op::KronAdjLeft | Op::KronAdjRight => {
                let name = if *g.op(n) == Op::KronAdjLeft {
                    "kron⊤ₗ"
                } else {
                    "kron⊤ᵣ"
                };
                E::Call(name.into(), vec![arg(0, self)?, arg(1, self)?])
            }
            Op::MatMul | Op::Scale => product(arg(0, self)?, arg(1, self)?),
            Op::Mul => {
                let (a, b) = (arg(0, self)?, arg(1, self)?);
                if ty.is_matrix() {
                    E::Had(bx(a), bx(b))
                } else {
                    product(a, b)
                }
            }
            Op::Kron => E::Kron(bx(arg(0, self)?), bx(arg(1, self)?)),
            Op::Dot => {
                let (a, b) = (arg(0, self)?, arg(1, self)?);
                self.dot(a, b)
            }
            Op::Div => {
                let (a, b) = (arg(0, self)?, arg(1, self)?);
                if g.ty(args[1]).is_matrix() {
                    E::HadDiv(bx(a), bx(b))
                } else {
                    E::Div(bx(a), bx(b))
                }
            }
            Op::Inverse => match arg(0, self)? {
                E::Inv(x) => *x,
                a => E::Inv(bx(a)),
            },
            Op::Det => E::Call("det".into(), vec![arg(0, self)?]),
            Op::NormSq => E::NormSq(bx(arg(0, self)?)),
            Op::Norm => E::Norm(bx(arg(0, self)?)),
            Op::Elem(f) => {
                let a = arg(0, self)?;
                match f {
                    Func::Recip if !ty.is_matrix() => E::Div(bx(E::Num(1.0)), bx(a)),
                    Func::Recip => E::HadDiv(bx(E::Name("1".into(), Kind::Scalar)), bx(a)),
                    Func::Abs => E::Call("|·|".into(), vec![a]),
                    Func::Sign | Func::Signum => E::Call("sign".into(), vec![a]),
                    Func::ExpM1 => sum(E::Call("exp".into(), vec![a]), E::Num(-1.0)),
                    Func::Log10 => E::Call("log₁₀".into(), vec![a]),
                    Func::Log2 => E::Call("log₂".into(), vec![a]),
                    Func::Ln1p => E::Call("ln".into(), vec![sum(E::Num(1.0), a)]),
                    Func::Softplus => E::Call(
                        "ln".into(),
                        vec![sum(E::Num(1.0), E::Call("exp".into(), vec![a]))],
                    ),
                    Func::Sqrt => E::Call("√".into(), vec![a]),
                    other => entrywise(other.method(), a),
                }
            }
            Op::Powi(k) => E::Pow(bx(arg(0, self)?), k.to_string()),
            Op::Powf => {
                let (a, c) = (arg(0, self)?, arg(1, self)?);
                E::Pow(bx(a), render(&c))
            }
            Op::AddScalar => sum(arg(0, self)?, arg(1, self)?),
            Op::Max | Op::Min => {
                let name = if *g.op(n) == Op::Max { "max" } else { "min" };
                E::Call(name.into(), vec![arg(0, self)?, arg(1, self)?])
            }
            Op::Above => {
                let (a, c) = (arg(0, self)?, arg(1, self)?);
                // [−a > −c] reads [a < c], with one sign fewer on each side.
                match (negated(&a), &c) {
                    (Some(a), E::Num(c)) if *c < 0.0 => E::Call("[<]".into(), vec![a, E::Num(-c)]),
                    _ => E::Call("[>]".into(), vec![a, c]),
                }
            }
            Op::MatPow(k) => E::MatPow(bx(arg(0, self)?), *k),
            Op::KindProduct { transposed } => {
                let (k, a) = (arg(0, self)?, arg(1, self)?);
                // kᵀ is k for a scalar, so the transpose is shown whatever k's kind.
                let k = if *transposed {
                    E::Name(format!("{}ᵀ", paren(&k)), Kind::Matrix)
                } else {
                    k
                };
                product(k, a)
            }
            // A condition prints in Iverson's brackets, [a < b]: 1 where it holds.
            Op::Compare(cmp) => {
                let (a, c) = (arg(0, self)?, arg(1, self)?);
                E::Name(
                    format!("[{} {} {}]", render(&a), cmp.printed(), render(&c)),
                    kind,
                )
            }
            // A branch prints its cases: {a if m; b otherwise}.
            Op::Select => {
                // A scalar broadcast to every entry (s J) reads as the scalar in a case.
                let case = |i: usize, this: &mut Self| {
                    let n = args[i];
                    match g.op(n) {
                        Op::Scale if matches!(g.op(g.args(n)[1]), Op::Ones) => {
                            this.build(g.args(n)[0])
                        }
                        _ => arg(i, this),
                    }
                };
                let (m, a, b) = (arg(0, self)?, case(1, self)?, case(2, self)?);
                let m = render(&m);
                let cond = m
                    .strip_prefix('[')
                    .and_then(|c| c.strip_suffix(']'))
                    .unwrap_or(&m);
                E::Name(
                    format!("{{{} if {cond}; {} otherwise}}", render(&a), render(&b)),
                    kind,
                )
            }
            Op::Stack => {
                let parts = (0..args.len())
                    .map(|i| arg(i, self))
                    .collect::<Option<Vec<E>>>()?;
                E::Call("[;]".into(), parts)
            }
        })
    }

    /// ⟨a, b⟩ of two vectors reads aᵀb, with a variable on the right where there is one, so
    /// that it lines up with the other terms of a gradient.
    pub(super) fn dot(&self, a: E, b: E) -> E {
        let vector = |e: &E| matches!(e.kind(), Kind::Col | Kind::Row);
        if vector(&a) && vector(&b) {
            let names_var = |e: &E| matches!(e, E::Name(n, _) if self.vars.contains(n));
            let (a, b) = if names_var(&a) && !names_var(&b) {
                (b, a)
            } else {
                (a, b)
            };
            let a = if a.kind() == Kind::Col {
                transpose(a)
            } else {
                a
            };
            let b = if b.kind() == Kind::Row {
                transpose(b)
            } else {
                b
            };
            return E::Sum(vec![Term {
                coef: 1.0,
                scalars: vec![],
                chain: vec![a, b],
            }]);
        }
        E::Dot(Box::new(a), Box::new(b))
    }
}

/// The vector of ones, 1.
pub(super) fn ones() -> E {
    E::Name("1".into(), Kind::Col)
}

pub(super) fn index_text(i: &Index) -> String {
    match i {
        Index::Lit(n) => n.to_string(),
        Index::Expr { text, .. } => text.clone(),
    }
}

pub(super) fn builder<'g>(g: &'g Graph, vars: &[String], by_name: bool) -> Builder<'g> {
    Builder {
        g,
        budget: BUDGET,
        depth: 0,
        vars: vars.to_vec(),
        by_name,
        defining: None,
        named: Default::default(),
        seen: Default::default(),
    }
}

/// Whether transposing the operands of an entrywise expression, rather than the whole, adds
/// no transposes: (a ⊙ b)ᵀ = aᵀ ⊙ bᵀ is worth writing, tanh(W x)ᵀ = tanh(xᵀ Wᵀ) is not.
fn pushes_in(e: &E) -> bool {
    if for_vec_rules() {
        return true;
    }
    let operands: Vec<&E> = match e {
        E::Had(a, b) | E::HadDiv(a, b) | E::Kron(a, b) => vec![a, b],
        E::Div(a, _) | E::Pow(a, _) => vec![a],
        E::Call(_, args) => args.iter().collect(),
        _ => return true,
    };
    operands.iter().all(|a| {
        a.is_scalar() || transpose((*a).clone()).count_transposes() <= a.count_transposes()
    })
}

/// An entrywise function of one argument, with a transpose of the argument taken outside
/// where that reads simpler: tanh(xᵀ Wᵀ) is tanh(W x)ᵀ.
pub(super) fn entrywise(f: &str, a: E) -> E {
    let ta = transpose(a.clone());
    if !for_vec_rules() && !a.is_scalar() && ta.count_transposes() < a.count_transposes() {
        E::T(Box::new(E::Call(f.into(), vec![ta])))
    } else {
        E::Call(f.into(), vec![a])
    }
}

/// `−a` as `a`, for an expression that is a single negated product.
pub(super) fn negated(e: &E) -> Option<E> {
    match e {
        E::Sum(ts) if ts.len() == 1 && ts[0].coef < 0.0 => {
            let mut t = ts[0].clone();
            t.coef = -t.coef;
            Some(t.into_e())
        }
        E::Num(c) if *c < 0.0 => Some(E::Num(-c)),
        _ => None,
    }
}

/// The Rust text of a constant leaf as mathematics: a cast is the quantity itself
/// (`n as f64` is n), a size is named by what it counts (`x.nrows() as f64` is nrows(x)), and
/// the constants of `std::f64::consts` are their symbols.
pub(super) fn math_text(text: &str) -> String {
    let t = strip_parens(text.trim());
    for ty in ["f64", "f32", "usize", "isize", "i32", "i64", "u32", "u64"] {
        if let Some(inner) = t.strip_suffix(ty).and_then(|s| s.strip_suffix(" as ")) {
            return math_text(inner);
        }
    }
    let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
    for (method, name) in [
        (".nrows()", "nrows"),
        (".ncols()", "ncols"),
        (".len()", "len"),
    ] {
        if let Some(of) = t.strip_suffix(method).filter(|s| ident(s)) {
            return format!("{name}({of})");
        }
    }
    match t.rsplit("::").next() {
        Some("PI") if t.ends_with("consts::PI") || t == "PI" => "π".into(),
        Some("E") if t.ends_with("consts::E") => "e".into(),
        Some("SQRT_2") if t.ends_with("consts::SQRT_2") => "√2".into(),
        _ if t.len() < text.trim().len() && ident(t) => t.to_string(),
        _ => text.to_string(),
    }
}

/// `text` without parentheses that enclose all of it.
fn strip_parens(text: &str) -> &str {
    let mut t = text;
    while let Some(inner) = t.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
        let mut depth = 0i32;
        let balanced = inner.chars().all(|c| {
            depth += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            depth >= 0
        });
        if !balanced || depth != 0 {
            break;
        }
        t = inner.trim();
    }
    t
}

thread_local! {
    static FOR_VEC_RULES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f` building trees in the form the vec rules of `vec.rs` read: transposes pushed onto
/// the operands of entrywise operations, broadcasts left as outer products (u 1ᵀ), so that
/// the direction dX stays where the rules find it. The formulas shown to a reader use the
/// textbook form instead (tanh(W x)ᵀ, diag(u) A).
pub(super) fn in_vec_form<T>(f: impl FnOnce() -> T) -> T {
    let before = FOR_VEC_RULES.with(|c| c.replace(true));
    let out = f();
    FOR_VEC_RULES.with(|c| c.set(before));
    out
}

pub(super) fn for_vec_rules() -> bool {
    FOR_VEC_RULES.with(|c| c.get())
}
