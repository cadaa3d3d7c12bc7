//! Formulas: a node of the graph, in the textbook form a person would write it.
//!
//! The graph is converted to a small tree, then put in a normal form: transposes are pushed
//! onto the leaves ((A B)ᵀ = Bᵀ Aᵀ), products are flattened into a scalar coefficient, scalar
//! factors and a chain of matrix factors, like terms are collected, and a factor common to the
//! right (or left) end of several terms is factored out: Aᵀ W + A W becomes (A + Aᵀ) W. The
//! formula printed is the gradient matgrad computes, rearranged only by these identities.

use crate::ir::{Func, Graph, Index, NodeId, Op, Part};
use crate::shape::{Dim, Ty};

/// What a value is, for the rules that care (transposing a scalar, splicing a product).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Scalar,
    Col,
    Row,
    Matrix,
}

impl Kind {
    fn transposed(self) -> Kind {
        match self {
            Kind::Col => Kind::Row,
            Kind::Row => Kind::Col,
            k => k,
        }
    }
}

/// A product: coefficient × scalar factors × a chain of matrix factors (in order).
#[derive(Clone, Debug, PartialEq)]
struct Term {
    coef: f64,
    scalars: Vec<E>,
    chain: Vec<E>,
}

#[derive(Clone, Debug, PartialEq)]
enum E {
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

fn kind_of(ty: Ty) -> Kind {
    match ty {
        Ty::Matrix(s) if s.cols == Dim::Fixed(1) && s.rows == Dim::Fixed(1) => Kind::Scalar,
        Ty::Matrix(s) if s.cols == Dim::Fixed(1) => Kind::Col,
        Ty::Matrix(s) if s.rows == Dim::Fixed(1) => Kind::Row,
        Ty::Matrix(_) => Kind::Matrix,
        _ => Kind::Scalar,
    }
}

impl E {
    fn is_scalar(&self) -> bool {
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

    fn kind(&self) -> Kind {
        match self {
            _ if self.is_scalar() => Kind::Scalar,
            E::Name(_, k) => *k,
            E::T(x) => x.kind().transposed(),
            E::Sum(ts) => ts.first().map(Term::kind).unwrap_or(Kind::Matrix),
            E::Inv(_) | E::Kron(..) | E::MatPow(..) => Kind::Matrix,
            E::Call(f, _) if f == "[;]" || f == "cross" || f == "vec" => Kind::Col,
            // diag(A) is the column of A's diagonal, diag(v) the matrix with v on its diagonal.
            E::Call(f, args) if f == "diag" => match args.first().map(E::kind) {
                Some(Kind::Col) => Kind::Matrix,
                _ => Kind::Col,
            },
            E::Call(_, args) => args.first().map(E::kind).unwrap_or(Kind::Matrix),
            E::Had(a, _) | E::HadDiv(a, _) | E::Div(a, _) | E::Pow(a, _) => a.kind(),
            _ => Kind::Matrix,
        }
    }

    fn term(self) -> Term {
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

    fn count_transposes(&self) -> usize {
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
    fn kind(&self) -> Kind {
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

    fn into_e(self) -> E {
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

    fn count_transposes(&self) -> usize {
        self.scalars
            .iter()
            .chain(&self.chain)
            .map(E::count_transposes)
            .sum()
    }

    fn transposed(self) -> Term {
        let chain = self.chain.into_iter().rev().map(transpose).collect();
        Term {
            coef: self.coef,
            scalars: self.scalars,
            chain,
        }
    }
}

fn product(a: E, b: E) -> E {
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

fn scaled(c: f64, e: E) -> E {
    product(E::Num(c), e)
}

fn sum(a: E, b: E) -> E {
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
fn collect(terms: Vec<Term>) -> Vec<Term> {
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

fn transpose(e: E) -> E {
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
            E::Call(f, args.into_iter().map(transpose).collect())
        }
        other => E::T(Box::new(other)),
    }
}

/// Builds formula trees from the graph. Shared nodes are expanded where they are used, up to a
/// budget that keeps a formula of a deep expression from growing without bound.
struct Builder<'g> {
    g: &'g Graph,
    budget: usize,
    depth: usize,
    vars: Vec<String>,
    /// Show the nodes the body named with `let` by their names (except `defining`), and
    /// collect the ones shown.
    by_name: bool,
    defining: Option<NodeId>,
    named: std::collections::BTreeSet<NodeId>,
}

const BUDGET: usize = 4000;
/// Formulas nested deeper than this are not printed (nobody could read them, and the passes
/// over the tree are recursive).
const MAX_FORMULA_DEPTH: usize = 48;

impl Builder<'_> {
    fn build(&mut self, n: NodeId) -> Option<E> {
        if self.budget == 0 || self.depth >= MAX_FORMULA_DEPTH {
            return None;
        }
        self.budget -= 1;
        if self.by_name && self.defining != Some(n) {
            if let Some(name) = self.g.names.get(&n) {
                self.named.insert(n);
                return Some(E::Name(name.clone(), kind_of(self.g.ty(n))));
            }
        }
        self.depth += 1;
        let out = self.build_inner(n);
        self.depth -= 1;
        out
    }

    fn build_inner(&mut self, n: NodeId) -> Option<E> {
        let g = self.g;
        let args = g.args(n).to_vec();
        let ty = g.ty(n);
        let kind = kind_of(ty);
        let arg = |i: usize, s: &mut Self| -> Option<E> { s.build(args[i]) };
        let bx = |e: E| Box::new(e);
        Some(match g.op(n) {
            Op::Param(i) => E::Name(g.params[*i].clone(), kind),
            Op::Local(k) => E::Name(g.locals[*k].text.clone(), kind),
            Op::Opaque(k) => E::Name(g.opaque[*k].text.clone(), kind),
            Op::Lit(_) => E::Num(g.lit_value(n).unwrap_or(f64::NAN)),
            Op::Identity => E::Name("I".into(), Kind::Matrix),
            // the vector of ones is 1, the matrix of ones J
            Op::Ones if kind == Kind::Col => ones(),
            Op::Ones if kind == Kind::Row => transpose(ones()),
            Op::Ones => E::Name("J".into(), kind),
            Op::Zeros => E::Num(0.0),
            Op::Commutation { .. } => E::Name("K".into(), Kind::Matrix),
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
                let name = if *max { "max" } else { "min" };
                E::Name(format!("[{0} = {name} {0}]", paren(&a)), kind)
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
                    other => E::Call(other.method().into(), vec![a]),
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
                E::Name(format!("[{} > {}]", render(&a), render(&c)), kind)
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
    fn dot(&self, a: E, b: E) -> E {
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
fn ones() -> E {
    E::Name("1".into(), Kind::Col)
}

fn index_text(i: &Index) -> String {
    match i {
        Index::Lit(n) => n.to_string(),
        Index::Expr { text, .. } => text.clone(),
    }
}

fn subscript(s: &str) -> String {
    const SUB: [char; 10] = ['₀', '₁', '₂', '₃', '₄', '₅', '₆', '₇', '₈', '₉'];
    if s.chars().all(|c| c.is_ascii_digit()) {
        s.chars()
            .map(|c| SUB[c.to_digit(10).unwrap_or(0) as usize])
            .collect()
    } else {
        format!("[{s}]")
    }
}

fn sub_text(i: &Index) -> String {
    const SUB: [char; 10] = ['₀', '₁', '₂', '₃', '₄', '₅', '₆', '₇', '₈', '₉'];
    match i {
        Index::Lit(n) => n
            .to_string()
            .chars()
            .map(|c| SUB[c.to_digit(10).unwrap_or(0) as usize])
            .collect(),
        Index::Expr { text, .. } if text.chars().all(|c| c.is_alphanumeric() || c == '_') => {
            text.clone()
        }
        Index::Expr { text, .. } => format!("[{text}]"),
    }
}

// ---- normal form ------------------------------------------------------------------------------

/// Put a tree in normal form: factors first, then the sums they stand in.
fn tidy(e: E, v: &[String]) -> E {
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

fn unreachable_e() -> E {
    E::Num(f64::NAN)
}

fn tidy_term(t: Term, v: &[String]) -> Term {
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
fn splice(mut t: Term, v: &[String]) -> Term {
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
fn factor(terms: Vec<Term>, v: &[String]) -> Vec<Term> {
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

fn sort_terms(ts: &mut [Term]) {
    ts.sort_by(|a, b| {
        let key = |t: &Term| (t.coef < 0.0, t.count_transposes(), render_term_abs(t));
        key(a).cmp(&key(b))
    });
}

// ---- rendering ----------------------------------------------------------------------------------

fn num(c: f64) -> String {
    if c.fract() == 0.0 && c.abs() < 1e15 {
        format!("{}", c as i64)
    } else {
        format!("{c}")
    }
}

fn superscript(s: &str) -> Option<String> {
    s.chars()
        .map(|c| match c {
            '0' => Some('⁰'),
            '1' => Some('¹'),
            '2' => Some('²'),
            '3' => Some('³'),
            '4' => Some('⁴'),
            '5' => Some('⁵'),
            '6' => Some('⁶'),
            '7' => Some('⁷'),
            '8' => Some('⁸'),
            '9' => Some('⁹'),
            '-' => Some('⁻'),
            _ => None,
        })
        .collect()
}

/// Whether a rendered expression can take a postfix (ᵀ, ⁻¹, a power) without parentheses.
fn atomic(e: &E) -> bool {
    match e {
        E::Name(n, _) => !n.contains(' ') || n.starts_with('(') && n.ends_with(')'),
        E::Call(..) | E::NormSq(_) | E::Norm(_) | E::Entry(..) | E::Dot(..) => true,
        E::Num(c) => *c >= 0.0,
        // A postfix renders its own parentheses.
        E::T(_) | E::Inv(_) => true,
        E::Pow(x, _) => atomic(x),
        _ => false,
    }
}

/// An expression as an operand of a postfix or an infix operator.
fn paren(e: &E) -> String {
    if atomic(e) {
        render(e)
    } else {
        format!("({})", render(e))
    }
}

/// An expression as a factor of a product: products need no parentheses there.
fn factor_text(e: &E) -> String {
    match e {
        E::MatPow(..) => render(e),
        E::Sum(ts) if ts.len() == 1 && ts[0].coef == 1.0 => render(e),
        _ => paren(e),
    }
}

fn render_term_abs(t: &Term) -> String {
    let mut parts: Vec<String> = Vec::new();
    let c = t.coef.abs();
    // Scalar factors 1/d are shown as a division of the whole product: x / ‖x‖.
    let is_recip = |e: &&E| matches!(e, E::Div(n, _) if **n == E::Num(1.0));
    let denominators: Vec<&E> = t.scalars.iter().filter(is_recip).collect();
    let scalars: Vec<&E> = t.scalars.iter().filter(|e| !is_recip(e)).collect();
    let no_factors = scalars.is_empty() && t.chain.is_empty();
    if c != 1.0 || no_factors {
        parts.push(num(c));
    }
    let factors: Vec<&E> = scalars.into_iter().chain(&t.chain).collect();
    let many = factors.len() > 1 || !parts.is_empty();
    let mut out = parts.join(" ");
    for f in factors {
        let s = if many { factor_text(f) } else { render(f) };
        // xᵀ(x w − y), but 2 (x²)ᵀ: a factor in parentheses follows a matrix directly.
        let after_number = out.chars().last().is_some_and(|c| c.is_ascii_digit());
        let glue = !out.is_empty() && (!s.starts_with('(') || after_number);
        if glue {
            out.push(' ');
        }
        out.push_str(&s);
    }
    for d in denominators {
        if let E::Div(_, d) = d {
            out.push_str(" / ");
            out.push_str(&paren(d));
        }
    }
    out
}

fn render(e: &E) -> String {
    match e {
        E::MatPow(x, k) => {
            let sup = superscript(&k.to_string()).unwrap_or_else(|| format!("^{k}"));
            format!("{}{sup}", paren(x))
        }
        E::Name(n, _) => n.clone(),
        E::Num(c) => num(*c),
        E::Sum(ts) => {
            let mut out = String::new();
            for (i, t) in ts.iter().enumerate() {
                let body = render_term_abs(t);
                match (i, t.coef < 0.0) {
                    (0, true) => out.push_str(&format!("−{body}")),
                    (0, false) => out.push_str(&body),
                    (_, true) => out.push_str(&format!(" − {body}")),
                    (_, false) => out.push_str(&format!(" + {body}")),
                }
            }
            out
        }
        E::T(x) => match &**x {
            E::Inv(y) => format!("{}⁻ᵀ", paren(y)),
            E::MatPow(..) => format!("({})ᵀ", render(x)),
            y => format!("{}ᵀ", paren(y)),
        },
        E::Inv(x) => format!("{}⁻¹", paren(x)),
        E::Call(f, args) => {
            let inner: Vec<String> = args.iter().map(render).collect();
            match f.as_str() {
                "|·|" => format!("|{}|", inner.join(", ")),
                "√" => format!("√{}", paren(&args[0])),
                "[;]" => format!("[{}]", inner.join("; ")),
                _ => format!("{f}({})", inner.join(", ")),
            }
        }
        E::Had(a, b) => format!("{} ⊙ {}", paren(a), paren(b)),
        E::HadDiv(a, b) => format!("{} ⊘ {}", paren(a), paren(b)),
        E::Kron(a, b) => format!("{} ⊗ {}", paren(a), paren(b)),
        E::Div(a, b) => format!("{} / {}", paren(a), paren(b)),
        E::Pow(a, k) => {
            let k = if k.contains(' ') {
                format!("({k})")
            } else {
                k.clone()
            };
            let sup = superscript(&k).unwrap_or_else(|| format!("^{k}"));
            let elementwise = !a.is_scalar();
            match &**a {
                // f²(x) reads better than f(x)²
                E::Call(f, args) if f.chars().all(char::is_alphabetic) => {
                    let inner: Vec<String> = args.iter().map(render).collect();
                    format!("{f}{sup}({})", inner.join(", "))
                }
                _ if elementwise => format!("{}^⊙{k}", paren(a)),
                _ => format!("{}{sup}", paren(a)),
            }
        }
        E::NormSq(a) => format!("‖{}‖²", render(a)),
        E::Norm(a) => format!("‖{}‖", render(a)),
        E::Dot(a, b) => format!("⟨{}, {}⟩", render(a), render(b)),
        E::Entry(a, i) => format!("{}[{i}]", paren(a)),
    }
}

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

fn builder<'g>(g: &'g Graph, vars: &[String], by_name: bool) -> Builder<'g> {
    Builder {
        g,
        budget: BUDGET,
        depth: 0,
        vars: vars.to_vec(),
        by_name,
        defining: None,
        named: Default::default(),
    }
}

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

pub use crate::text::source_text;

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

fn mentions(e: &E, name: &str) -> bool {
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

fn identity() -> E {
    E::Name("I".into(), Kind::Matrix)
}

fn chain_of(factors: &[E]) -> Option<E> {
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
fn then(a: E, b: E) -> E {
    match (a == identity(), b == identity()) {
        (true, _) => b,
        (_, true) => a,
        _ => product(a, b),
    }
}

/// The Jacobian of `e`, an expression linear in the direction `dir`.
fn vectorize(e: &E, dir: &str, dir_kind: Kind) -> Option<E> {
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

fn diag(a: &E) -> E {
    let arg = if matches!(a.kind(), Kind::Col | Kind::Row | Kind::Scalar) {
        a.clone()
    } else {
        E::Call("vec".into(), vec![a.clone()])
    };
    E::Call("diag".into(), vec![arg])
}

fn vectorize_term(t: &Term, dir: &str, dir_kind: Kind) -> Option<E> {
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
