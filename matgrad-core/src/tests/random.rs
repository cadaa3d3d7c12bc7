//! Randomized testing of the engine: random well-shaped expressions over the whole operation set
//! (rectangular shapes, several variables, shared sub-expressions, depth up to 8), derived with
//! the same engine the macro uses, interpreted, and compared with finite differences of the
//! interpreted function along random directions. The same harness checks that the simplifying
//! constructors preserve values. Seeded and reproducible: a failure prints its seed and formula.

use super::rng::Rng;
use crate::eval::{eval, Value};
use crate::grad;
use crate::ir::vocabulary::{self, Domain};
use crate::ir::{Cmp, Func, Graph, Index, NodeId, Op, Part};
use crate::pretty::formula;
use crate::shape::{Dim, Shape, Ty};

impl Rng {
    /// Uniform in [−1, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.unit() + 1.0) / 2.0 < p
    }
}

/// One random function: its graph, its variables and its parameters' values.
struct Case {
    g: Graph,
    rng: Rng,
    dims: Vec<(Dim, usize)>,
    vars: Vec<NodeId>,
    values: Vec<Value>,
    pool: Vec<NodeId>,
}

impl Case {
    /// A branch on a condition of the case's own values (`value` draws each operand): entry
    /// by entry for matrices, `if`/`else` of the whole for scalars.
    fn branch(&mut self, ty: Ty, value: impl Fn(&mut Case) -> NodeId) -> NodeId {
        let on = value(self);
        let threshold = self.rng.unit() - 0.5;
        let t = self.lit(threshold);
        let cmp = [Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge][self.rng.below(4)];
        let m = self.raw(Op::Compare(cmp), vec![on, t], ty);
        let (a, b) = (value(self), value(self));
        self.raw(Op::Select, vec![m, a, b], ty)
    }

    /// A loop of 0 to 3 iterations carrying one value: h ← h/2 + e(h), where e (drawn by
    /// `value`) may read h (the carry is in the pool of reusable nodes while the body is
    /// drawn), the case's variables and the values outside; loops may nest.
    fn looped(&mut self, ty: Ty, value: impl Fn(&mut Case) -> NodeId) -> NodeId {
        use crate::ir::loops::{Carry, Header, LoopKind};
        let init = value(self);
        let trips = self.rng.below(4);
        let iter = format!("0..{trips}");
        let parent = self.g.current_scope;
        let header = Header {
            pat: quote::quote!(_),
            iter: iter.parse().unwrap_or_default(),
            bound: Vec::new(),
            text: format!("_ ∈ {iter}"),
            index: "i".into(),
        };
        let lp = self.g.push_loop(header, parent, LoopKind::Primal);
        let start = self.g.len();
        let saved_pool = self.pool.clone();
        self.g.current_scope = Some(lp);
        let op = Op::Carry {
            lp,
            index: 0,
            active: true,
        };
        let h = self.g.node(op, vec![], ty);
        self.pool.push(h);
        self.pool.push(h);
        let e = value(self);
        let half = self.lit(0.5);
        let halved = match ty {
            Ty::Scalar => self.raw(Op::Mul, vec![half, h], ty),
            _ => self.raw(Op::Scale, vec![half, h], ty),
        };
        let out = self.raw(Op::Add, vec![halved, e], ty);
        self.g.current_scope = parent;
        self.pool = saved_pool;
        let g = &self.g;
        let mut captures = Vec::new();
        for id in start..g.len() {
            let n = NodeId(id as u32);
            if !g.within(g.scope_of(n), lp) || g.op(n).is_leaf() {
                continue;
            }
            for &a in g.args(n) {
                if g.is_active(a) && !g.within(g.scope_of(a), lp) && !captures.contains(&a) {
                    captures.push(a);
                }
            }
        }
        captures.sort();
        let mut args = vec![init];
        args.extend(captures);
        self.g.loops[lp].carries = vec![Carry {
            name: "h".into(),
            param: h,
            init,
            out,
        }];
        self.g.loops[lp].args = args.clone();
        let o = self.raw(Op::LoopOut { lp, out: 0 }, args, ty);
        self.g.loops[lp].outs = vec![o];
        o
    }

    /// A scalar function from the vocabulary whose domain is one of `domains`.
    fn function(&mut self, domains: &[Domain]) -> Func {
        let pool: Vec<Func> = domains
            .iter()
            .flat_map(|&d| vocabulary::functions_on(d))
            .collect();
        pool[self.rng.below(pool.len())]
    }

    fn new(seed: u64) -> Case {
        let mut rng = Rng::new(seed);
        let mut g = Graph::default();
        let mut dims = Vec::new();
        let mut sizes = vec![2usize, 3, 4, 5];
        for name in ["m", "n", "p"] {
            let size = sizes.remove(rng.below(sizes.len()));
            dims.push((Dim::Dyn(g.dims.fresh(name)), size));
        }
        dims.push((Dim::Fixed(1), 1));
        let mut case = Case {
            g,
            rng,
            dims,
            vars: Vec::new(),
            values: Vec::new(),
            pool: Vec::new(),
        };
        // The variables: X (m×n), Y (n×p), v (m-vector) and a scalar s.
        let (m, n, p) = (case.dims[0], case.dims[1], case.dims[2]);
        let one = case.dims[3];
        for (name, ty) in [
            ("X", Some((m, n))),
            ("Y", Some((n, p))),
            ("v", Some((m, one))),
            ("s", None),
        ] {
            let id = case.param(name, ty, true);
            case.vars.push(id);
        }
        case
    }

    fn param(
        &mut self,
        name: &str,
        shape: Option<((Dim, usize), (Dim, usize))>,
        variable: bool,
    ) -> NodeId {
        let k = self.g.params.len();
        self.g.params.push(name.to_string());
        self.g.variables.push(variable);
        let (ty, value) = match shape {
            Some(((r, rs), (c, cs))) => {
                let m = nalgebra::DMatrix::from_fn(rs, cs, |_, _| self.rng.unit());
                (Ty::Matrix(Shape::new(r, c)), Value::Matrix(m))
            }
            None => (Ty::Scalar, Value::Scalar(self.rng.unit())),
        };
        self.values.push(value);
        self.g.node(Op::Param(k), vec![], ty)
    }

    #[allow(dead_code)]
    fn size(&self, d: Dim) -> usize {
        self.dims
            .iter()
            .find(|(x, _)| *x == d)
            .map(|(_, s)| *s)
            .unwrap_or(1)
    }

    fn dim(&mut self) -> (Dim, usize) {
        self.dims[self.rng.below(self.dims.len())]
    }

    /// A block of shape `block` at a random place in `a`, of shape `whole`.
    fn block_of(
        &mut self,
        a: NodeId,
        whole: ((Dim, usize), (Dim, usize)),
        block: ((Dim, usize), (Dim, usize)),
    ) -> NodeId {
        let ((rows, cols), (r, c)) = (whole, block);
        let (i, j) = (
            self.rng.below(rows.1 - r.1 + 1),
            self.rng.below(cols.1 - c.1 + 1),
        );
        let ty = Ty::Matrix(Shape::new(r.0, c.0));
        self.raw(Op::View(Index::Lit(i), Index::Lit(j)), vec![a], ty)
    }

    fn dim_at_least(&mut self, size: usize) -> (Dim, usize) {
        let fits: Vec<_> = self.dims.iter().copied().filter(|d| d.1 >= size).collect();
        fits[self.rng.below(fits.len())]
    }

    fn dim_at_most(&mut self, size: usize) -> (Dim, usize) {
        let fits: Vec<_> = self.dims.iter().copied().filter(|d| d.1 <= size).collect();
        fits[self.rng.below(fits.len())]
    }

    fn lit(&mut self, v: f64) -> NodeId {
        self.g.node(Op::lit(v), vec![], Ty::Scalar)
    }

    fn raw(&mut self, op: Op, args: Vec<NodeId>, ty: Ty) -> NodeId {
        let id = self.g.node(op, args, ty);
        self.pool.push(id);
        id
    }

    fn reuse(&mut self, ty: Ty) -> Option<NodeId> {
        let fits: Vec<NodeId> = self
            .pool
            .iter()
            .copied()
            .filter(|&n| self.g.ty(n) == ty)
            .collect();
        (!fits.is_empty()).then(|| fits[self.rng.below(fits.len())])
    }

    fn leaf_matrix(&mut self, r: (Dim, usize), c: (Dim, usize)) -> NodeId {
        let ty = Ty::Matrix(Shape::new(r.0, c.0));
        let var = self.vars.iter().copied().find(|&v| self.g.ty(v) == ty);
        match var {
            Some(v) if self.rng.chance(0.7) => v,
            _ => self.param("C", Some((r, c)), false),
        }
    }

    fn leaf_scalar(&mut self) -> NodeId {
        match self.rng.below(3) {
            0 => self.vars[3],
            1 => self.param("c", None, false),
            _ => {
                let v = (self.rng.unit() * 4.0).round() / 2.0 + 0.5;
                self.lit(v)
            }
        }
    }

    /// 1 + a², entrywise: positive, for divisions, logarithms and roots.
    fn positive(&mut self, a: NodeId) -> NodeId {
        let ty = self.g.ty(a);
        let sq = self.raw(Op::Powi(2), vec![a], ty);
        let one = self.lit(1.0);
        if ty.is_matrix() {
            self.raw(Op::AddScalar, vec![sq, one], ty)
        } else {
            self.raw(Op::Add, vec![sq, one], ty)
        }
    }

    /// 3I + 0.3 tanh(M): diagonally dominant with a positive diagonal, so invertible with a
    /// positive determinant.
    fn well_conditioned(&mut self, k: (Dim, usize), depth: u32) -> NodeId {
        let m = self.matrix(k, k, depth);
        self.dominant(m)
    }

    /// 3I + 0.3 tanh(m) for a square m.
    fn dominant(&mut self, m: NodeId) -> NodeId {
        let ty = self.g.ty(m);
        let t = self.raw(Op::Elem(Func::Tanh), vec![m], ty);
        let small = self.lit(0.3);
        let t = self.raw(Op::Scale, vec![small, t], ty);
        let eye = self.g.node(Op::Identity, vec![], ty);
        let three = self.lit(3.0);
        let d = self.raw(Op::Scale, vec![three, eye], ty);
        self.raw(Op::Add, vec![d, t], ty)
    }

    fn matrix(&mut self, r: (Dim, usize), c: (Dim, usize), depth: u32) -> NodeId {
        let ty = Ty::Matrix(Shape::new(r.0, c.0));
        if depth == 0 || self.rng.chance(0.2) {
            return self.leaf_matrix(r, c);
        }
        if self.rng.chance(0.15) {
            if let Some(n) = self.reuse(ty) {
                return n;
            }
        }
        let d = depth - 1;
        if self.rng.chance(0.05) {
            return self.branch(ty, |case| case.matrix(r, c, d));
        }
        if depth >= 2 && self.rng.chance(0.04) {
            return self.looped(ty, |case| case.matrix(r, c, d));
        }
        match self.rng.below(27) {
            0 => {
                let (a, b) = (self.matrix(r, c, d), self.matrix(r, c, d));
                self.raw(Op::Add, vec![a, b], ty)
            }
            1 => {
                let (a, b) = (self.matrix(r, c, d), self.matrix(r, c, d));
                self.raw(Op::Sub, vec![a, b], ty)
            }
            2 | 3 => {
                let k = self.dim();
                let (a, b) = (self.matrix(r, k, d), self.matrix(k, c, d));
                self.raw(Op::MatMul, vec![a, b], ty)
            }
            4 => {
                let (s, a) = (self.scalar(d), self.matrix(r, c, d));
                self.raw(Op::Scale, vec![s, a], ty)
            }
            5 => {
                let a = self.matrix(c, r, d);
                self.raw(Op::Transpose, vec![a], ty)
            }
            6 => {
                let (a, b) = (self.matrix(r, c, d), self.matrix(r, c, d));
                self.raw(Op::Mul, vec![a, b], ty)
            }
            7 => {
                let (a, b) = (self.matrix(r, c, d), self.matrix(r, c, d));
                let b = self.positive(b);
                self.raw(Op::Div, vec![a, b], ty)
            }
            8 => {
                let a = self.matrix(r, c, d);
                let f = self.function(&[Domain::Bounded]);
                self.raw(Op::Elem(f), vec![a], ty)
            }
            9 => {
                let a = self.matrix(r, c, d);
                let t = self.raw(Op::Elem(Func::Tanh), vec![a], ty);
                self.raw(Op::Elem(Func::Exp), vec![t], ty)
            }
            10 if r == c => {
                let w = self.well_conditioned(r, d);
                self.raw(Op::Inverse, vec![w], ty)
            }
            11 => {
                let (a, s) = (self.matrix(r, c, d), self.scalar(d));
                let s = self.positive(s);
                self.raw(Op::Div, vec![a, s], ty)
            }
            12 => {
                let (a, s) = (self.matrix(r, c, d), self.scalar(d));
                self.raw(Op::AddScalar, vec![a, s], ty)
            }
            13 => {
                let a = self.matrix(r, c, d);
                let k = 2 + self.rng.below(2) as i32;
                self.raw(Op::Powi(k), vec![a], ty)
            }
            14 => {
                let a = self.matrix(r, c, d);
                let p = self.positive(a);
                let f = self.function(&[Domain::Positive]);
                self.raw(Op::Elem(f), vec![p], ty)
            }
            15 => {
                let a = self.matrix(r, c, d);
                self.raw(Op::Neg, vec![a], ty)
            }
            16 if c.0 == Dim::Fixed(1) => {
                let parts = (0..r.1).map(|_| self.scalar(d)).collect();
                self.raw(Op::Stack, parts, ty)
            }
            17 if r == c => {
                let a = self.matrix(r, c, d);
                let part = [Part::Lower, Part::Upper, Part::LowerHalf][self.rng.below(3)];
                self.raw(Op::Triangle(part), vec![a], ty)
            }
            18 => {
                let t = self.well_conditioned(r, d);
                let b = self.matrix(r, c, d);
                let (upper, transpose) = (self.rng.chance(0.5), self.rng.chance(0.5));
                self.raw(Op::TriSolve { upper, transpose }, vec![t, b], ty)
            }
            19 if r == c => {
                // W Wᵀ with W diagonally dominant: symmetric positive definite.
                let w = self.well_conditioned(r, d);
                let wt = self.raw(Op::Transpose, vec![w], ty);
                let a = self.raw(Op::MatMul, vec![w, wt], ty);
                self.raw(Op::Cholesky, vec![a], ty)
            }
            20 => {
                let one = (Dim::Fixed(1), 1);
                if self.rng.chance(0.5) {
                    let v = self.matrix(one, c, d);
                    self.raw(Op::RepeatRow, vec![v], ty)
                } else {
                    let v = self.matrix(r, one, d);
                    self.raw(Op::RepeatColumn, vec![v], ty)
                }
            }
            21 => {
                // A block of a larger matrix.
                let (rows, cols) = (self.dim_at_least(r.1), self.dim_at_least(c.1));
                let a = self.matrix(rows, cols, d);
                self.block_of(a, (rows, cols), (r, c))
            }
            22 => {
                // A smaller matrix placed in a block.
                let rows = self.dim_at_most(r.1);
                let cols = self.dim_at_most(c.1);
                let b = self.matrix(rows, cols, d);
                let (i, j) = (
                    self.rng.below(r.1 - rows.1 + 1),
                    self.rng.below(c.1 - cols.1 + 1),
                );
                self.raw(Op::Embed(Index::Lit(i), Index::Lit(j)), vec![b], ty)
            }
            23 if r == c => {
                let v = self.matrix(r, (Dim::Fixed(1), 1), d);
                self.raw(Op::FromDiagonal, vec![v], ty)
            }
            24 if c.0 == Dim::Fixed(1) => {
                let a = self.matrix(r, r, d);
                self.raw(Op::Diagonal, vec![a], ty)
            }
            25 if c.0 == Dim::Fixed(1) && r.1 == 3 => {
                let (a, b) = (self.matrix(r, c, d), self.matrix(r, c, d));
                self.raw(Op::Cross, vec![a, b], ty)
            }
            26 if r.0 == Dim::Fixed(1) || c.0 == Dim::Fixed(1) => {
                let k = self.dim();
                if r.0 == Dim::Fixed(1) {
                    let a = self.matrix(k, c, d);
                    self.raw(Op::RowSum, vec![a], ty)
                } else {
                    let a = self.matrix(r, k, d);
                    self.raw(Op::ColumnSum, vec![a], ty)
                }
            }
            _ => self.leaf_matrix(r, c),
        }
    }

    fn scalar(&mut self, depth: u32) -> NodeId {
        let ty = Ty::Scalar;
        if depth == 0 || self.rng.chance(0.2) {
            return self.leaf_scalar();
        }
        if self.rng.chance(0.15) {
            if let Some(n) = self.reuse(ty) {
                return n;
            }
        }
        let d = depth - 1;
        if self.rng.chance(0.05) {
            return self.branch(ty, |case| case.scalar(d));
        }
        if depth >= 2 && self.rng.chance(0.04) {
            return self.looped(ty, |case| case.scalar(d));
        }
        match self.rng.below(17) {
            0 => {
                let k = self.dim();
                let a = self.matrix(k, k, d);
                self.raw(Op::Trace, vec![a], ty)
            }
            1 => {
                let (r, c) = (self.dim(), self.dim());
                let a = self.matrix(r, c, d);
                self.raw(Op::Sum, vec![a], ty)
            }
            2 => {
                let (r, c) = (self.dim(), self.dim());
                let (a, b) = (self.matrix(r, c, d), self.matrix(r, c, d));
                self.raw(Op::Dot, vec![a, b], ty)
            }
            3 => {
                let (r, c) = (self.dim(), self.dim());
                let a = self.matrix(r, c, d);
                self.raw(Op::NormSq, vec![a], ty)
            }
            4 => {
                let (r, c) = (self.dim(), self.dim());
                let a = self.matrix(r, c, d);
                let one = self.lit(1.0);
                let a = self.raw(
                    Op::AddScalar,
                    vec![a, one],
                    Ty::Matrix(Shape::new(r.0, c.0)),
                );
                self.raw(Op::Norm, vec![a], ty)
            }
            5 => {
                let k = self.dim();
                let w = self.well_conditioned(k, d);
                self.raw(Op::Det, vec![w], ty)
            }
            6 => {
                let k = self.dim();
                let w = self.well_conditioned(k, d);
                let det = self.raw(Op::Det, vec![w], ty);
                self.raw(Op::Elem(Func::Ln), vec![det], ty)
            }
            7 => {
                let (r, c) = (self.dim(), self.dim());
                let a = self.matrix(r, c, d);
                let (i, j) = (self.rng.below(r.1), self.rng.below(c.1));
                self.raw(Op::Entry(Index::Lit(i), Index::Lit(j)), vec![a], ty)
            }
            8 => {
                let (a, b) = (self.scalar(d), self.scalar(d));
                self.raw(Op::Mul, vec![a, b], ty)
            }
            9 => {
                let (a, b) = (self.scalar(d), self.scalar(d));
                let op = if self.rng.chance(0.5) {
                    Op::Add
                } else {
                    Op::Sub
                };
                self.raw(op, vec![a, b], ty)
            }
            10 => {
                let (a, b) = (self.scalar(d), self.scalar(d));
                let b = self.positive(b);
                self.raw(Op::Div, vec![a, b], ty)
            }
            11 => {
                let a = self.scalar(d);
                let f = self.function(&[Domain::Bounded]);
                self.raw(Op::Elem(f), vec![a], ty)
            }
            12 => {
                let a = self.scalar(d);
                let p = self.positive(a);
                let f = self.function(&[Domain::Positive]);
                self.raw(Op::Elem(f), vec![p], ty)
            }
            13 => {
                let (a, c) = (self.scalar(d), self.scalar(d));
                let p = self.positive(a);
                let c = self.raw(Op::Elem(Func::Tanh), vec![c], ty);
                self.raw(Op::Powf, vec![p, c], ty)
            }
            14 => {
                // ⟨A ⊗ B, K⟩ for a constant K of the product's shape.
                let (r1, c1, r2, c2) = (self.dim(), self.dim(), self.dim(), self.dim());
                let (a, b) = (self.matrix(r1, c1, d), self.matrix(r2, c2, d));
                let rows = self.product(r1, r2);
                let cols = self.product(c1, c2);
                let kty = Ty::Matrix(Shape::new(rows.0, cols.0));
                let k = self.raw(Op::Kron, vec![a, b], kty);
                let w = self.param("K", Some((rows, cols)), false);
                self.raw(Op::Dot, vec![k, w], ty)
            }
            15 => {
                let a = self.scalar(d);
                self.raw(Op::Powi(3), vec![a], ty)
            }
            16 if self.rng.chance(0.3) => {
                let (r, c) = (self.dim(), self.dim());
                let a = self.matrix(r, c, d);
                let max = self.rng.chance(0.5);
                self.raw(Op::Extremum { max }, vec![a], ty)
            }
            _ => {
                let a = self.scalar(d);
                let t = self.raw(Op::Elem(Func::Tanh), vec![a], ty);
                self.raw(Op::Elem(Func::Exp), vec![t], ty)
            }
        }
    }

    fn product(&mut self, a: (Dim, usize), b: (Dim, usize)) -> (Dim, usize) {
        match (a.0, b.0) {
            (Dim::Fixed(x), Dim::Fixed(y)) => (Dim::Fixed(x * y), a.1 * b.1),
            _ => (
                Dim::Dyn(self.g.dims.fresh_product("kron", a.0, b.0)),
                a.1 * b.1,
            ),
        }
    }
}

/// The parameters' values with each variable moved by `step` times its direction.
fn moved(g: &Graph, values: &[Value], vars: &[NodeId], dirs: &[Vec<f64>], step: f64) -> Vec<Value> {
    let mut params = values.to_vec();
    for (i, &v) in vars.iter().enumerate() {
        if let Op::Param(p) = g.op(v) {
            let x = params[*p].entries();
            let mut nv = params[*p].clone();
            for k in 0..x.len() {
                nv = nv.with_entry(k, x[k] + step * dirs[i][k]);
            }
            params[*p] = nv;
        }
    }
    params
}

/// Whether a condition of a branch changes between the two points of a central difference:
/// then the difference straddles the boundary and says nothing about either branch's
/// derivative (which is the one taken, also on the boundary).
fn crosses_a_boundary(
    g: &Graph,
    values: &[Value],
    vars: &[NodeId],
    dirs: &[Vec<f64>],
    h: f64,
    upto: NodeId,
) -> bool {
    let conditions: Vec<NodeId> = (0..=upto.index())
        .map(|i| NodeId(i as u32))
        .filter(|&n| matches!(g.op(n), Op::Compare(_)))
        .collect();
    if conditions.is_empty() {
        return false;
    }
    let at = |step: f64| eval(g, &moved(g, values, vars, dirs, step), upto).ok();
    match (at(h), at(-h)) {
        (Some(p), Some(q)) => conditions.iter().any(|c| p[c.index()] != q[c.index()]),
        _ => true,
    }
}

/// The same expression rebuilt through the simplifying constructors.
fn rebuild(g: &mut Graph, n: NodeId, memo: &mut Vec<Option<NodeId>>) -> NodeId {
    if let Some(Some(m)) = memo.get(n.index()) {
        return *m;
    }
    let args: Vec<NodeId> = g
        .args(n)
        .to_vec()
        .into_iter()
        .map(|a| rebuild(g, a, memo))
        .collect();
    let ty = g.ty(n);
    let a = args.first().copied().unwrap_or(n);
    let b = args.get(1).copied().unwrap_or(n);
    let out = match g.op(n).clone() {
        Op::Neg => g.neg(a),
        Op::Add => g.add(a, b),
        Op::Sub => g.sub(a, b),
        Op::Transpose => g.transpose(a),
        Op::Trace => g.trace(a),
        Op::Sum => g.sum(a),
        Op::MatMul => g.matmul(a, b),
        Op::Scale => g.scale(a, b),
        Op::Mul => g.mul(a, b),
        Op::Dot => g.dot(a, b),
        Op::Div => g.div(a, b),
        Op::Inverse => g.inverse(a),
        Op::Det => g.det(a),
        Op::Elem(f) => g.elem(f, a),
        Op::Powi(k) => g.powi(a, k),
        Op::Powf => g.powf(a, b),
        Op::AddScalar => g.add_scalar(a, b),
        Op::Kron => g.kron(a, b, ty.shape().expect("matrix")),
        Op::Compare(cmp) => g.compare(cmp, a, b),
        Op::Select => g.select(a, b, args[2]),
        // A loop's results are read by the loop's own record of its arguments.
        Op::LoopOut { .. } | Op::LoopAdjoint { .. } => n,
        op => g.node(op, args, ty),
    };
    memo[n.index()] = Some(out);
    out
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

/// Check one random function. `Err` describes the failure.
fn check(seed: u64) -> Result<(), String> {
    let mut case = Case::new(seed);
    let depth = 2 + (seed % 7) as u32;
    let mut f = case.scalar(depth);
    if !case.g.is_active(f) {
        // Make it depend on every variable.
        let x = case.vars[0];
        let w = case.param("W", Some((case.dims[0], case.dims[1])), false);
        let t = case.raw(Op::Dot, vec![x, w], Ty::Scalar);
        f = case.raw(Op::Add, vec![f, t], Ty::Scalar);
    }
    let g = &mut case.g;
    g.primal_len = g.len();
    let names: Vec<String> = ["X", "Y", "v", "s"].iter().map(|s| s.to_string()).collect();
    let text = formula(g, f, &names);

    // Simplification preserves values.
    let mut memo = vec![None; g.len()];
    let simplified = rebuild(g, f, &mut memo);

    let seed_node = g.lit(1.0);
    let grads = grad::reverse(g, f, seed_node, &case.vars);
    for gr in grads.iter().flatten() {
        let _ = formula(g, *gr, &names);
    }
    let last = NodeId(g.len() as u32 - 1);
    let vals = eval(g, &case.values, last)
        .map_err(|e| format!("seed {seed}: eval failed: {e:?}\nf = {text}"))?;
    let fv = vals[f.index()].scalar();
    if !fv.is_finite() {
        return Ok(());
    }
    let sv = vals[simplified.index()].scalar();
    if !close(fv, sv, 1e-10) {
        return Err(format!(
            "seed {seed}: simplification changed the value: {fv} vs {sv}\nf = {text}"
        ));
    }

    // ⟨∇f, d⟩ against a central difference along two random directions.
    let mut rng = Rng::new(seed ^ 0xD1B5_4A32_D192_ED03);
    for _ in 0..2 {
        let dirs: Vec<Value> = case
            .vars
            .iter()
            .map(|&v| {
                let x = &case.values[match g.op(v) {
                    Op::Param(p) => *p,
                    _ => 0,
                }];
                let e = x.entries();
                let mut out = x.clone();
                for (k, _) in e.iter().enumerate() {
                    out = out.with_entry(k, rng.unit());
                }
                out
            })
            .collect();
        let mut predicted = 0.0;
        for (i, gr) in grads.iter().enumerate() {
            if let Some(gr) = gr {
                let gv = vals[gr.index()].entries();
                let dv = dirs[i].entries();
                if gv.len() != dv.len() {
                    return Err(format!(
                        "seed {seed}: gradient of {} has {} entries, variable {}\nf = {text}",
                        names[i],
                        gv.len(),
                        dv.len()
                    ));
                }
                predicted += gv.iter().zip(&dv).map(|(a, b)| a * b).sum::<f64>();
            }
        }
        let h = 1e-6;
        let dir_entries: Vec<Vec<f64>> = dirs.iter().map(Value::entries).collect();
        let shifted = |sign: f64| -> Result<f64, String> {
            let params = moved(g, &case.values, &case.vars, &dir_entries, sign * h);
            crate::eval::eval_node(g, &params, f)
                .map(|v| v.scalar())
                .map_err(|e| format!("{e:?}"))
        };
        if crosses_a_boundary(g, &case.values, &case.vars, &dir_entries, h, f) {
            continue;
        }
        let numeric = (shifted(1.0)? - shifted(-1.0)?) / (2.0 * h);
        // Rounding in f itself limits a central difference to about ε|f|/h.
        let slack = 1e-8 * fv.abs();
        if (predicted - numeric).abs() > 2e-5 * predicted.abs().max(numeric.abs()).max(1.0) + slack
        {
            let grads_text: Vec<String> = grads
                .iter()
                .zip(&names)
                .map(|(gr, n)| {
                    format!(
                        "∂f/∂{n} = {}",
                        gr.map(|g2| formula(g, g2, &names)).unwrap_or("0".into())
                    )
                })
                .collect();
            return Err(format!(
                "seed {seed}: directional derivative {predicted} but finite differences give {numeric}\nf = {text}\n{}",
                grads_text.join("\n")
            ));
        }
    }
    Ok(())
}

#[test]
fn random_expressions_match_finite_differences() {
    let cases: u64 = std::env::var("MATGRAD_RANDOM_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let mut failures = Vec::new();
    for seed in 0..cases {
        if let Err(e) = check(seed) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} random cases failed; the first:\n{}",
        failures.len(),
        failures[0]
    );
}

/// Forward-over-reverse: the differential of the gradient in a direction d is the Hessian
/// applied to d. Checked against central differences of the gradient, with the forward
/// differential of f itself checked against ⟨∇f, d⟩ on the way, and the Hessian's symmetry
/// ⟨d₂, H d₁⟩ = ⟨d₁, H d₂⟩.
fn check_hvp(seed: u64) -> Result<(), String> {
    let mut case = Case::new(seed);
    let depth = 2 + (seed % 6) as u32;
    let f = case.scalar(depth);
    if !case.g.is_active(f) {
        return Ok(());
    }
    let names: Vec<String> = ["X", "Y", "v", "s"].iter().map(|s| s.to_string()).collect();
    // Two directions per variable, as constant parameters of the variables' shapes.
    let mut dirs: Vec<Vec<NodeId>> = vec![Vec::new(), Vec::new()];
    for set in dirs.iter_mut() {
        for &v in &case.vars.clone() {
            let shape = match case.g.ty(v) {
                Ty::Matrix(s) => {
                    let (r, c) = (s.rows, s.cols);
                    let find = |d: Dim| {
                        case.dims
                            .iter()
                            .copied()
                            .find(|x| x.0 == d)
                            .unwrap_or((d, 1))
                    };
                    Some((find(r), find(c)))
                }
                _ => None,
            };
            set.push(case.param("d", shape, false));
        }
    }
    let g = &mut case.g;
    g.primal_len = g.len();
    let text = formula(g, f, &names);
    let one = g.lit(1.0);
    let grads = grad::reverse(g, f, one, &case.vars);
    let last_grad = NodeId(g.len() as u32 - 1);
    let hvps: Vec<Vec<Option<NodeId>>> = dirs
        .iter()
        .map(|set| {
            let seeds: Vec<(NodeId, NodeId)> =
                case.vars.iter().copied().zip(set.iter().copied()).collect();
            let t = grad::forward(g, last_grad, &seeds);
            let df = t[f.index()];
            let mut out: Vec<Option<NodeId>> = grads
                .iter()
                .map(|gr| gr.and_then(|n| t[n.index()]))
                .collect();
            out.push(df);
            out
        })
        .collect();
    for h in hvps.iter().flatten().flatten() {
        let _ = formula(g, *h, &names);
    }
    let last = NodeId(g.len() as u32 - 1);
    let vals = eval(g, &case.values, last)
        .map_err(|e| format!("seed {seed}: eval failed: {e:?}\nf = {text}"))?;
    let fv = vals[f.index()].scalar();
    if !fv.is_finite() {
        return Ok(());
    }
    let entries = |n: Option<NodeId>, like: NodeId| -> Vec<f64> {
        match n {
            Some(n) => vals[n.index()].entries(),
            None => vec![0.0; vals[like.index()].entries().len()],
        }
    };
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut h_d = Vec::new();
    for (k, set) in dirs.iter().enumerate() {
        // df(d) = ⟨∇f, d⟩
        let df = hvps[k][4].map(|n| vals[n.index()].scalar()).unwrap_or(0.0);
        let mut predicted = 0.0;
        for (i, gr) in grads.iter().enumerate() {
            predicted += dot(&entries(*gr, case.vars[i]), &vals[set[i].index()].entries());
        }
        if !close(df, predicted, 1e-9) {
            return Err(format!(
                "seed {seed}: forward differential {df} but ⟨∇f, d⟩ = {predicted}\nf = {text}\ndf = {}\ngrads = {:?}",
                hvps[k][4].map(|n| formula(g, n, &names)).unwrap_or("0".into()),
                grads.iter().map(|gr| gr.map(|n| formula(g, n, &names))).collect::<Vec<_>>()
            ));
        }
        let hd: Vec<Vec<f64>> = (0..4).map(|i| entries(hvps[k][i], case.vars[i])).collect();
        h_d.push(hd);
    }
    // Symmetry: ⟨d₂, H d₁⟩ = ⟨d₁, H d₂⟩.
    let d_vals = |k: usize, i: usize| vals[dirs[k][i].index()].entries();
    let a: f64 = (0..4).map(|i| dot(&d_vals(1, i), &h_d[0][i])).sum();
    let b: f64 = (0..4).map(|i| dot(&d_vals(0, i), &h_d[1][i])).sum();
    if !close(a, b, 1e-8) {
        return Err(format!(
            "seed {seed}: Hessian not symmetric: {a} vs {b}\nf = {text}"
        ));
    }
    // H d against central differences of the gradient along d.
    let h = 1e-5;
    let dir_entries: Vec<Vec<f64>> = (0..4).map(|i| d_vals(0, i)).collect();
    let shifted_grads = |sign: f64| -> Result<Vec<Vec<f64>>, String> {
        let params = moved(g, &case.values, &case.vars, &dir_entries, sign * h);
        let vals = eval(g, &params, last_grad).map_err(|e| format!("{e:?}"))?;
        Ok((0..4)
            .map(|i| match grads[i] {
                Some(n) => vals[n.index()].entries(),
                None => vec![0.0; case.values[i].entries().len()],
            })
            .collect())
    };
    let (gp, gm) = (shifted_grads(1.0)?, shifted_grads(-1.0)?);
    for i in 0..4 {
        for k in 0..gp[i].len() {
            let numeric = (gp[i][k] - gm[i][k]) / (2.0 * h);
            let got = h_d[0][i][k];
            let slack = 1e-7 * fv.abs();
            if (got - numeric).abs() > 1e-4 * got.abs().max(numeric.abs()).max(1.0) + slack {
                return Err(format!(
                    "seed {seed}: (H d) for {} entry {k}: {got} but differences of the gradient give {numeric}\nf = {text}\nH d = {}",
                    names[i],
                    hvps[0][i].map(|n| formula(g, n, &names)).unwrap_or("0".into())
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn random_hessian_vector_products_match_finite_differences() {
    let cases: u64 = std::env::var("MATGRAD_RANDOM_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    let mut failures = Vec::new();
    for seed in 0..cases {
        if let Err(e) = check_hvp(seed) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} random cases failed; the first:\n{}",
        failures.len(),
        failures[0]
    );
}

/// Jacobians of random matrix-valued functions: the forward differential dF(D) against central
/// differences of F along D, and the reverse accumulation from a cotangent C̄ against it through
/// the adjoint identity ⟨C̄, dF(D)⟩ = Σ ⟨X̄(C̄), D⟩.
fn check_jacobian(seed: u64) -> Result<bool, String> {
    let mut case = Case::new(seed);
    let depth = 1 + (seed % 6) as u32;
    let (r, c) = (case.dim(), case.dim());
    let mut f = case.matrix(r, c, depth);
    if !case.g.is_active(f) {
        // Make it depend on a variable: F + s C.
        let k = case.param("C", Some((r, c)), false);
        let ty = case.g.ty(f);
        let sk = case.raw(Op::Scale, vec![case.vars[3], k], ty);
        f = case.raw(Op::Add, vec![f, sk], ty);
    }
    let names: Vec<String> = ["X", "Y", "v", "s"].iter().map(|s| s.to_string()).collect();
    let mut dirs = Vec::new();
    for &v in &case.vars.clone() {
        let shape = match case.g.ty(v) {
            Ty::Matrix(s) => {
                let find = |d: Dim| {
                    case.dims
                        .iter()
                        .copied()
                        .find(|x| x.0 == d)
                        .unwrap_or((d, 1))
                };
                Some((find(s.rows), find(s.cols)))
            }
            _ => None,
        };
        dirs.push(case.param("d", shape, false));
    }
    let cot = case.param("c", Some((r, c)), false);
    let g = &mut case.g;
    g.primal_len = g.len();
    let text = formula(g, f, &names);
    let seeds: Vec<(NodeId, NodeId)> = case
        .vars
        .iter()
        .copied()
        .zip(dirs.iter().copied())
        .collect();
    let tangent = grad::forward(g, f, &seeds);
    let df = tangent[f.index()];
    let adjoints = grad::reverse(g, f, cot, &case.vars);
    // The whole Jacobians with respect to X, Y and v, where the path allows them.
    let batched: Vec<(usize, Option<Option<NodeId>>)> = [0usize, 1, 2]
        .iter()
        .map(|&k| (k, crate::batched::jacobian(g, f, case.vars[k])))
        .collect();
    let last = NodeId(g.len() as u32 - 1);
    let vals = eval(g, &case.values, last)
        .map_err(|e| format!("seed {seed}: eval failed: {e:?}\nF = {text}"))?;
    let fv = vals[f.index()].entries();
    if fv.iter().any(|v| !v.is_finite()) {
        return Ok(false);
    }
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let dfv = df
        .map(|n| vals[n.index()].entries())
        .unwrap_or_else(|| vec![0.0; fv.len()]);
    let cv = vals[cot.index()].entries();
    let lhs = dot(&cv, &dfv);
    let rhs: f64 = adjoints
        .iter()
        .zip(&dirs)
        .map(|(a, d)| {
            a.map(|n| dot(&vals[n.index()].entries(), &vals[d.index()].entries()))
                .unwrap_or(0.0)
        })
        .sum();
    if !close(lhs, rhs, 1e-9) {
        return Err(format!(
            "seed {seed}: ⟨C̄, dF(D)⟩ = {lhs} but Σ⟨X̄, D⟩ = {rhs}\nF = {text}"
        ));
    }
    let h = 1e-6;
    let dir_entries: Vec<Vec<f64>> = dirs.iter().map(|d| vals[d.index()].entries()).collect();
    let shifted = |sign: f64| -> Result<Vec<f64>, String> {
        let params = moved(g, &case.values, &case.vars, &dir_entries, sign * h);
        crate::eval::eval_node(g, &params, f)
            .map(|v| v.entries())
            .map_err(|e| format!("{e:?}"))
    };
    let (fp, fm) = (shifted(1.0)?, shifted(-1.0)?);
    let scale = fv.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (var, jn) in batched {
        let Some(jn) = jn else { continue };
        let dv = &dir_entries[var];
        let only_v: Vec<Vec<f64>> = dir_entries
            .iter()
            .enumerate()
            .map(|(i, d)| {
                if i == var {
                    d.clone()
                } else {
                    vec![0.0; d.len()]
                }
            })
            .collect();
        let along_v = |sign: f64| -> Result<Vec<f64>, String> {
            let params = moved(g, &case.values, &case.vars, &only_v, sign * h);
            crate::eval::eval_node(g, &params, f)
                .map(|v| v.entries())
                .map_err(|e| format!("{e:?}"))
        };
        let (vp, vm) = (along_v(1.0)?, along_v(-1.0)?);
        let predicted: Vec<f64> = match jn {
            Some(jn) => {
                let jm = vals[jn.index()].matrix();
                if jm.shape() != (fv.len(), dv.len()) {
                    return Err(format!(
                        "seed {seed}: the batched Jacobian is {:?}, want {:?}\nF = {text}",
                        jm.shape(),
                        (fv.len(), dv.len())
                    ));
                }
                (0..fv.len())
                    .map(|i| (0..dv.len()).map(|k| jm[(i, k)] * dv[k]).sum())
                    .collect()
            }
            None => vec![0.0; fv.len()],
        };
        for k in 0..fv.len() {
            let numeric = (vp[k] - vm[k]) / (2.0 * h);
            let p = predicted[k];
            if (p - numeric).abs() > 2e-5 * p.abs().max(numeric.abs()).max(1.0) + 1e-8 * scale {
                return Err(format!(
                    "seed {seed}: batched Jacobian row {k} gives {p} but differences give {numeric}\nF = {text}\nJ = {}",
                    jn.map(|n| formula(g, n, &names)).unwrap_or("0".into())
                ));
            }
        }
    }
    for k in 0..fv.len() {
        let numeric = (fp[k] - fm[k]) / (2.0 * h);
        if (dfv[k] - numeric).abs() > 2e-5 * dfv[k].abs().max(numeric.abs()).max(1.0) + 1e-8 * scale
        {
            return Err(format!(
                "seed {seed}: dF entry {k} is {} but differences give {numeric}\nF = {text}\ndF = {}",
                dfv[k],
                df.map(|n| formula(g, n, &names)).unwrap_or("0".into())
            ));
        }
    }
    Ok(true)
}

#[test]
fn random_jacobians_match_finite_differences() {
    let (cases, checked) = run_seeds(1500, check_jacobian);
    assert!(
        checked * 2 > cases,
        "only {checked} of {cases} random cases could be checked"
    );
}

impl Case {
    /// A column vector of length `r` built only from operations a batched Jacobian passes
    /// through (constant matrices times vectors, entrywise functions, entries, blocks, ..).
    fn vector(&mut self, r: (Dim, usize), depth: u32) -> NodeId {
        let one = (Dim::Fixed(1), 1);
        let ty = Ty::Matrix(Shape::new(r.0, one.0));
        if depth == 0 || self.rng.chance(0.15) {
            return self.leaf_matrix(r, one);
        }
        let d = depth - 1;
        match self.rng.below(14) {
            0 => {
                let (a, b) = (self.vector(r, d), self.vector(r, d));
                let op = if self.rng.chance(0.5) {
                    Op::Add
                } else {
                    Op::Sub
                };
                self.raw(op, vec![a, b], ty)
            }
            1 | 2 => {
                let k = self.dim();
                let a = self.param("A", Some((r, k)), false);
                let b = self.vector(k, d);
                self.raw(Op::MatMul, vec![a, b], ty)
            }
            3 => {
                let (s, a) = (self.vscalar(d), self.vector(r, d));
                self.raw(Op::Scale, vec![s, a], ty)
            }
            4 => {
                let (a, b) = (self.vector(r, d), self.vector(r, d));
                self.raw(Op::Mul, vec![a, b], ty)
            }
            5 => {
                let (a, b) = (self.vector(r, d), self.vector(r, d));
                let b = self.positive(b);
                self.raw(Op::Div, vec![a, b], ty)
            }
            6 => {
                let (a, s) = (self.vector(r, d), self.vscalar(d));
                let s = self.positive(s);
                self.raw(Op::Div, vec![a, s], ty)
            }
            7 => {
                let a = self.vector(r, d);
                let f = self.function(&[Domain::Bounded, Domain::Growing]);
                let a = if vocabulary::function_of(f).domain == Domain::Growing {
                    self.raw(Op::Elem(Func::Tanh), vec![a], ty)
                } else {
                    a
                };
                self.raw(Op::Elem(f), vec![a], ty)
            }
            8 => {
                let a = self.vector(r, d);
                let p = self.positive(a);
                let f = self.function(&[Domain::Positive]);
                self.raw(Op::Elem(f), vec![p], ty)
            }
            9 => {
                let (a, s) = (self.vector(r, d), self.vscalar(d));
                self.raw(Op::AddScalar, vec![a, s], ty)
            }
            10 => {
                let parts = (0..r.1).map(|_| self.vscalar(d)).collect();
                self.raw(Op::Stack, parts, ty)
            }
            11 => {
                let rows = self.dim_at_least(r.1);
                let a = self.vector(rows, d);
                let i = self.rng.below(rows.1 - r.1 + 1);
                self.raw(Op::View(Index::Lit(i), Index::Lit(0)), vec![a], ty)
            }
            12 => {
                let t = self.param("T", Some((r, r)), false);
                let eye = self
                    .g
                    .node(Op::Identity, vec![], Ty::Matrix(Shape::new(r.0, r.0)));
                let three = self.lit(3.0);
                let d3 = self.raw(
                    Op::Scale,
                    vec![three, eye],
                    Ty::Matrix(Shape::new(r.0, r.0)),
                );
                let t = self.raw(Op::Add, vec![t, d3], Ty::Matrix(Shape::new(r.0, r.0)));
                let b = self.vector(r, d);
                let (upper, transpose) = (self.rng.chance(0.5), self.rng.chance(0.5));
                self.raw(Op::TriSolve { upper, transpose }, vec![t, b], ty)
            }
            _ => {
                // (aᵀ)ᵀ through a row vector, and a row times a constant matrix.
                let k = self.dim();
                let a = self.vector(k, d);
                let at = self.raw(Op::Transpose, vec![a], Ty::Matrix(Shape::new(one.0, k.0)));
                let b = self.param("B", Some((k, r)), false);
                let row = self.raw(Op::MatMul, vec![at, b], Ty::Matrix(Shape::new(one.0, r.0)));
                self.raw(Op::Transpose, vec![row], ty)
            }
        }
    }

    fn vscalar(&mut self, depth: u32) -> NodeId {
        let ty = Ty::Scalar;
        if depth == 0 || self.rng.chance(0.2) {
            return self.leaf_scalar();
        }
        let d = depth - 1;
        let k = self.dim();
        match self.rng.below(8) {
            0 => {
                let a = self.vector(k, d);
                self.raw(Op::Sum, vec![a], ty)
            }
            1 => {
                let (a, b) = (self.vector(k, d), self.vector(k, d));
                self.raw(Op::Dot, vec![a, b], ty)
            }
            2 => {
                let a = self.vector(k, d);
                self.raw(Op::NormSq, vec![a], ty)
            }
            3 => {
                let a = self.vector(k, d);
                let i = self.rng.below(k.1);
                self.raw(Op::Entry(Index::Lit(i), Index::Lit(0)), vec![a], ty)
            }
            4 => {
                let a = self.vector(k, d);
                let max = self.rng.chance(0.5);
                self.raw(Op::Extremum { max }, vec![a], ty)
            }
            5 => {
                let (a, b) = (self.vscalar(d), self.vscalar(d));
                self.raw(Op::Mul, vec![a, b], ty)
            }
            6 => {
                let a = self.vscalar(d);
                self.raw(Op::Elem(Func::Tanh), vec![a], ty)
            }
            _ => {
                // a row times a column: a 1×1 product
                let (a, b) = (self.vector(k, d), self.vector(k, d));
                let one = Dim::Fixed(1);
                let at = self.raw(Op::Transpose, vec![a], Ty::Matrix(Shape::new(one, k.0)));
                let p = self.raw(Op::MatMul, vec![at, b], Ty::Matrix(Shape::new(one, one)));
                self.raw(Op::Entry(Index::Lit(0), Index::Lit(0)), vec![p], ty)
            }
        }
    }
}

impl Case {
    /// An r×c matrix built only from operations whose batched Jacobian rules handle matrices:
    /// products of variables, transposes, entrywise functions, scalings, inverses.
    fn batched_matrix(&mut self, r: (Dim, usize), c: (Dim, usize), depth: u32) -> NodeId {
        let ty = Ty::Matrix(Shape::new(r.0, c.0));
        if depth == 0 || self.rng.chance(0.15) {
            return self.leaf_matrix(r, c);
        }
        let d = depth - 1;
        match self.rng.below(12) {
            0 => {
                let (a, b) = (self.batched_matrix(r, c, d), self.batched_matrix(r, c, d));
                let op = if self.rng.chance(0.5) {
                    Op::Add
                } else {
                    Op::Sub
                };
                self.raw(op, vec![a, b], ty)
            }
            1 | 2 => {
                let k = self.dim();
                let (a, b) = (self.batched_matrix(r, k, d), self.batched_matrix(k, c, d));
                self.raw(Op::MatMul, vec![a, b], ty)
            }
            3 => {
                let a = self.batched_matrix(c, r, d);
                self.raw(Op::Transpose, vec![a], ty)
            }
            4 => {
                let (a, b) = (self.batched_matrix(r, c, d), self.batched_matrix(r, c, d));
                self.raw(Op::Mul, vec![a, b], ty)
            }
            5 => {
                let a = self.batched_matrix(r, c, d);
                let f = self.function(&[Domain::Bounded]);
                self.raw(Op::Elem(f), vec![a], ty)
            }
            6 => {
                let (s, a) = (self.batched_scalar(d), self.batched_matrix(r, c, d));
                self.raw(Op::Scale, vec![s, a], ty)
            }
            7 if r == c => {
                // (3I + 0.3 tanh(M))⁻¹ with M on the path
                let m = self.batched_matrix(r, r, d);
                let w = self.dominant(m);
                self.raw(Op::Inverse, vec![w], ty)
            }
            8 => {
                let (a, b) = (self.batched_matrix(r, c, d), self.batched_matrix(r, c, d));
                let b = self.positive(b);
                self.raw(Op::Div, vec![a, b], ty)
            }
            9 => {
                // a bias broadcast along rows or columns, or a sum of rows or columns
                let one = (Dim::Fixed(1), 1);
                match (r.0 == one.0, c.0 == one.0, self.rng.below(2)) {
                    (true, _, _) => {
                        let k = self.dim();
                        let a = self.batched_matrix(k, c, d);
                        self.raw(Op::RowSum, vec![a], ty)
                    }
                    (_, true, _) => {
                        let k = self.dim();
                        let a = self.batched_matrix(r, k, d);
                        self.raw(Op::ColumnSum, vec![a], ty)
                    }
                    (_, _, 0) => {
                        let v = self.batched_matrix(one, c, d);
                        self.raw(Op::RepeatRow, vec![v], ty)
                    }
                    _ => {
                        let v = self.batched_matrix(r, one, d);
                        self.raw(Op::RepeatColumn, vec![v], ty)
                    }
                }
            }
            10 => {
                // a block of a larger matrix
                let (rows, cols) = (self.dim_at_least(r.1), self.dim_at_least(c.1));
                let a = self.batched_matrix(rows, cols, d);
                self.block_of(a, (rows, cols), (r, c))
            }
            _ => {
                let (a, s) = (self.batched_matrix(r, c, d), self.batched_scalar(d));
                self.raw(Op::AddScalar, vec![a, s], ty)
            }
        }
    }

    fn batched_scalar(&mut self, depth: u32) -> NodeId {
        let ty = Ty::Scalar;
        if depth == 0 || self.rng.chance(0.3) {
            return self.leaf_scalar();
        }
        let d = depth - 1;
        let (r, c) = (self.dim(), self.dim());
        match self.rng.below(5) {
            0 => {
                let a = self.batched_matrix(r, c, d);
                self.raw(Op::Sum, vec![a], ty)
            }
            1 => {
                let (a, b) = (self.batched_matrix(r, c, d), self.batched_matrix(r, c, d));
                self.raw(Op::Dot, vec![a, b], ty)
            }
            2 => {
                let a = self.batched_matrix(r, r, d);
                self.raw(Op::Trace, vec![a], ty)
            }
            3 => {
                let a = self.batched_matrix(r, c, d);
                let (i, j) = (self.rng.below(r.1), self.rng.below(c.1));
                self.raw(Op::Entry(Index::Lit(i), Index::Lit(j)), vec![a], ty)
            }
            _ => {
                let w = self.well_conditioned(r, 0);
                let a = self.batched_matrix(r, r, d);
                let a = self.raw(
                    Op::Elem(Func::Tanh),
                    vec![a],
                    Ty::Matrix(Shape::new(r.0, r.0)),
                );
                let s = self.raw(Op::Add, vec![w, a], Ty::Matrix(Shape::new(r.0, r.0)));
                self.raw(Op::Det, vec![s], ty)
            }
        }
    }
}

/// A vector-valued function of the vector v, or a matrix-valued function of the matrix X:
/// its batched Jacobian against differences.
fn check_batched(seed: u64) -> Result<bool, String> {
    let mut case = Case::new(seed);
    let r = case.dim();
    let (f, v) = if seed % 2 == 0 {
        (case.vector(r, 1 + (seed % 5) as u32), case.vars[2])
    } else {
        let c = case.dim();
        (
            case.batched_matrix(r, c, 1 + (seed % 5) as u32),
            case.vars[0],
        )
    };
    let names: Vec<String> = ["X", "Y", "v", "s"].iter().map(|s| s.to_string()).collect();
    let g = &mut case.g;
    g.primal_len = g.len();
    let text = formula(g, f, &names);
    let Some(jn) = crate::batched::jacobian(g, f, v) else {
        return Err(format!(
            "seed {seed}: no batched Jacobian for a vector path\nF = {text}"
        ));
    };
    let last = NodeId(g.len() as u32 - 1);
    let vals = eval(g, &case.values, last)
        .map_err(|e| format!("seed {seed}: eval failed: {e:?}\nF = {text}"))?;
    let fv = vals[f.index()].entries();
    if fv.iter().any(|x| !x.is_finite()) {
        return Ok(false);
    }
    let p = match g.op(v) {
        Op::Param(p) => *p,
        _ => 2,
    };
    let x = case.values[p].entries();
    let jm = jn.map(|n| vals[n.index()].matrix());
    for k in 0..x.len() {
        let h = 1e-6;
        let at = |step: f64| -> Result<Vec<f64>, String> {
            let mut params = case.values.clone();
            params[p] = params[p].with_entry(k, x[k] + step);
            crate::eval::eval_node(g, &params, f)
                .map(|v| v.entries())
                .map_err(|e| format!("{e:?}"))
        };
        let (fp, fm) = (at(h)?, at(-h)?);
        for i in 0..fv.len() {
            let numeric = (fp[i] - fm[i]) / (2.0 * h);
            let got = jm.as_ref().map_or(0.0, |m| m[(i, k)]);
            if (got - numeric).abs() > 2e-5 * got.abs().max(numeric.abs()).max(1.0) {
                return Err(format!(
                    "seed {seed}: J[({i}, {k})] = {got} but differences give {numeric}\nF = {text}\nJ = {}",
                    jn.map(|n| formula(g, n, &names)).unwrap_or("0".into())
                ));
            }
        }
    }
    Ok(true)
}

#[test]
fn random_batched_jacobians_match_finite_differences() {
    let (cases, checked) = run_seeds(1500, check_batched);
    assert!(
        checked > cases * 9 / 10,
        "only {checked} of {cases} were finite"
    );
}

/// Run `check` on the seeds 0..n, n from `MATGRAD_RANDOM_CASES` or `default`; fail with the
/// first failure. Returns n and how many cases were checked (not skipped as non-finite).
fn run_seeds(default: u64, check: impl Fn(u64) -> Result<bool, String>) -> (u64, u64) {
    let cases: u64 = std::env::var("MATGRAD_RANDOM_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    let mut failures = Vec::new();
    let mut checked = 0;
    for seed in 0..cases {
        match check(seed) {
            Ok(true) => checked += 1,
            Ok(false) => {}
            Err(e) => failures.push(e),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} random cases failed; the first:\n{}",
        failures.len(),
        failures[0]
    );
    (cases, checked)
}
