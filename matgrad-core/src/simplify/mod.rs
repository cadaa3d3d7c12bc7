//! Smart constructors: the algebraic identities applied as nodes are built.
//!
//! Differentiation builds every node through these, so zeros never reach the generated code,
//! identities are never multiplied, scalar factors are collected into one scaling and transposes
//! cancel where that is free. Each rewrite is named in a comment beside it. They are exact
//! identities, and each one keeps the cost of the generated code the same or lowers it: a
//! rewrite that would throw away a value the function already computed (its forward pass) is
//! not applied to forward nodes.
//!
//! The textbook form of the formula (collected terms, common factors) is a separate normal form
//! in `pretty.rs`: what reads best is not always what computes fastest.

mod branches;
mod products;
use crate::ir::{Graph, Index, NodeId, Op};
use crate::shape::{Dim, Shape, Ty};

/// The shape nalgebra gives a sum of two shapes: a fixed axis wins over a dynamic one.
pub fn representative(a: Shape, b: Shape) -> Shape {
    let pick = |x: Dim, y: Dim| if matches!(x, Dim::Fixed(_)) { x } else { y };
    Shape::new(pick(a.rows, b.rows), pick(a.cols, b.cols))
}

impl Graph {
    pub fn lit(&mut self, value: f64) -> NodeId {
        self.node(Op::lit(value), vec![], Ty::Scalar)
    }

    /// Zero of a type: the literal 0 or the zero matrix.
    pub fn zero(&mut self, ty: Ty) -> NodeId {
        match ty {
            Ty::Matrix(_) => self.node(Op::Zeros, vec![], ty),
            _ => self.lit(0.0),
        }
    }

    pub fn identity(&mut self, shape: Shape) -> NodeId {
        self.node(Op::Identity, vec![], Ty::Matrix(shape))
    }

    pub fn ones(&mut self, shape: Shape) -> NodeId {
        self.node(Op::Ones, vec![], Ty::Matrix(shape))
    }

    pub fn is_zero(&self, id: NodeId) -> bool {
        matches!(self.op(id), Op::Zeros) || self.lit_value(id) == Some(0.0)
    }

    fn is_lit(&self, id: NodeId, value: f64) -> bool {
        self.lit_value(id) == Some(value)
    }

    /// An identity matrix that is square by its shape, so that multiplying by it changes nothing.
    fn is_square_identity(&self, id: NodeId) -> bool {
        match (self.op(id), self.shape(id)) {
            (Op::Identity, Some(s)) => self.dims.same(s.rows, s.cols),
            _ => false,
        }
    }

    pub fn neg(&mut self, a: NodeId) -> NodeId {
        let ty = self.ty(a);
        if let Some(n) = self.push_into_select(a, |g, x| g.neg(x)) {
            return n;
        }
        match self.op(a).clone() {
            // neg-neg: −(−a) = a
            Op::Neg => self.args(a)[0],
            // neg-zero
            Op::Zeros => a,
            // neg-lit
            Op::Lit(_) => {
                let v = self.lit_value(a).unwrap_or(0.0);
                self.lit(-v)
            }
            // neg-embed: −embed(x) = embed(−x), only the block is negated
            Op::Embed(r, c) => {
                let x = self.args(a)[0];
                let nx = self.neg(x);
                let shape = ty
                    .shape()
                    .unwrap_or(Shape::new(Dim::Fixed(1), Dim::Fixed(1)));
                self.embed(nx, r, c, shape)
            }
            // neg-scale: −(c a) = (−c) a for a literal c
            Op::Scale if self.lit_value(self.args(a)[0]).is_some() => {
                let (c, x) = (self.args(a)[0], self.args(a)[1]);
                let nc = self.neg(c);
                self.scale(nc, x)
            }
            _ => self.node(Op::Neg, vec![a], ty),
        }
    }

    pub fn add(&mut self, a: NodeId, b: NodeId) -> NodeId {
        // add-zero
        if self.is_zero(a) {
            return b;
        }
        if self.is_zero(b) {
            return a;
        }
        if let (Some(x), Some(y)) = (self.lit_value(a), self.lit_value(b)) {
            return self.lit(x + y);
        }
        // add-select: (m ? a : b) + (m ? c : d) = m ? a + c : b + d
        if let (Op::Select, Op::Select) = (self.op(a), self.op(b)) {
            let (x, y) = (self.args(a).to_vec(), self.args(b).to_vec());
            if x[0] == y[0] {
                let (t, e) = (self.add(x[1], y[1]), self.add(x[2], y[2]));
                return self.select(x[0], t, e);
            }
        }
        if let Some(n) = self.push_into_select_scalar(a, |g, x| g.add(x, b)) {
            return n;
        }
        if let Some(n) = self.push_into_select_scalar(b, |g, y| g.add(a, y)) {
            return n;
        }
        // add-same: a + a = 2 a
        if a == b {
            let two = self.lit(2.0);
            return self.times(two, a);
        }
        // add-scaled: c x + x = (c + 1) x, c x + d x = (c + d) x (c, d literals)
        let scaled = |g: &Self, n: NodeId| -> (f64, NodeId) {
            match g.op(n) {
                Op::Scale | Op::Mul if g.lit_value(g.args(n)[0]).is_some() => {
                    (g.lit_value(g.args(n)[0]).unwrap_or(1.0), g.args(n)[1])
                }
                _ => (1.0, n),
            }
        };
        let ((ca, xa), (cb, xb)) = (scaled(self, a), scaled(self, b));
        if xa == xb && (ca != 1.0 || cb != 1.0) {
            let c = self.lit(ca + cb);
            return self.times(c, xa);
        }
        // add-neg: a + (−b) = a − b
        if matches!(self.op(b), Op::Neg) {
            let inner = self.args(b)[0];
            return self.sub(a, inner);
        }
        if matches!(self.op(a), Op::Neg) {
            let inner = self.args(a)[0];
            return self.sub(b, inner);
        }
        let ty = self.sum_ty(a, b);
        // add-factor: a r + b r = (a + b) r and l a + l b = l (a + b), for products built by
        // differentiation: one product instead of two, when the shared factor is not a vector.
        if let Some(factored) = self.factor_sum(a, b) {
            return factored;
        }
        self.node(Op::Add, vec![a, b], ty)
    }

    pub fn sub(&mut self, a: NodeId, b: NodeId) -> NodeId {
        if self.is_zero(b) {
            return a;
        }
        if let Some(n) = self.push_into_select_scalar(a, |g, x| g.sub(x, b)) {
            return n;
        }
        if let Some(n) = self.push_into_select_scalar(b, |g, y| g.sub(a, y)) {
            return n;
        }
        if self.is_zero(a) {
            return self.neg(b);
        }
        // sub-self: a − a = 0
        if a == b {
            let ty = self.ty(a);
            return self.zero(ty);
        }
        if let (Some(x), Some(y)) = (self.lit_value(a), self.lit_value(b)) {
            return self.lit(x - y);
        }
        // sub-neg: a − (−b) = a + b
        if matches!(self.op(b), Op::Neg) {
            let inner = self.args(b)[0];
            return self.add(a, inner);
        }
        let ty = self.sum_ty(a, b);
        self.node(Op::Sub, vec![a, b], ty)
    }

    fn factor_sum(&mut self, a: NodeId, b: NodeId) -> Option<NodeId> {
        let fresh_product = |g: &Self, n: NodeId| *g.op(n) == Op::MatMul && !g.is_primal(n);
        if !fresh_product(self, a) || !fresh_product(self, b) {
            return None;
        }
        let (a0, a1) = (self.args(a)[0], self.args(a)[1]);
        let (b0, b1) = (self.args(b)[0], self.args(b)[1]);
        let wide = |g: &Self, d: Dim| g.dims.estimate(d) > 1.0;
        let same = |g: &Self, x: NodeId, y: NodeId| match (g.shape(x), g.shape(y)) {
            (Some(p), Some(q)) => g.dims.same(p.rows, q.rows) && g.dims.same(p.cols, q.cols),
            _ => false,
        };
        if a1 == b1 && same(self, a0, b0) && wide(self, self.shape(a1)?.cols) {
            let s = self.add(a0, b0);
            return Some(self.matmul(s, a1));
        }
        if a0 == b0 && same(self, a1, b1) && wide(self, self.shape(a0)?.rows) {
            let s = self.add(a1, b1);
            return Some(self.matmul(a0, s));
        }
        None
    }

    fn sum_ty(&self, a: NodeId, b: NodeId) -> Ty {
        match (self.ty(a), self.ty(b)) {
            (Ty::Matrix(x), Ty::Matrix(y)) => Ty::Matrix(representative(x, y)),
            (Ty::Matrix(x), _) | (_, Ty::Matrix(x)) => Ty::Matrix(x),
            (Ty::Scalar, _) | (_, Ty::Scalar) => Ty::Scalar,
            _ => Ty::Unknown,
        }
    }

    /// Whether `aᵀ` can be had without computing anything new (see `transpose`).
    fn absorbs_transpose(&self, a: NodeId) -> bool {
        match self.op(a) {
            Op::Transpose | Op::Identity | Op::Ones | Op::Zeros => true,
            Op::MatMul if !self.is_primal(a) => {
                let args = self.args(a);
                args.iter().any(|&x| matches!(self.op(x), Op::Transpose))
            }
            Op::Scale => self.absorbs_transpose(self.args(a)[1]),
            Op::Neg => self.absorbs_transpose(self.args(a)[0]),
            _ => false,
        }
    }

    pub fn transpose(&mut self, a: NodeId) -> NodeId {
        let ty = self.ty(a);
        if let Some(n) = self.push_into_select_scalar(a, |g, x| g.transpose(x)) {
            return n;
        }
        let Ty::Matrix(shape) = ty else {
            // transpose-scalar: sᵀ = s
            return a;
        };
        let t = Ty::Matrix(shape.transposed());
        match self.op(a).clone() {
            // transpose-transpose: (aᵀ)ᵀ = a
            Op::Transpose => self.args(a)[0],
            // transpose-constant: Iᵀ, Jᵀ and 0ᵀ are I, J and 0 of the transposed shape
            Op::Identity | Op::Ones | Op::Zeros => {
                let op = self.op(a).clone();
                self.node(op, vec![], t)
            }
            // transpose-scale: (s a)ᵀ = s aᵀ
            Op::Scale => {
                let (s, x) = (self.args(a)[0], self.args(a)[1]);
                let xt = self.transpose(x);
                self.scale(s, xt)
            }
            // transpose-neg: (−a)ᵀ = −aᵀ
            Op::Neg => {
                let x = self.args(a)[0];
                let xt = self.transpose(x);
                self.neg(xt)
            }
            // transpose-product: (x y)ᵀ = yᵀ xᵀ, for a product built by differentiation whose
            // factors are transposes already, so the transposes cancel instead of being copied.
            // A product the function computed itself is transposed the same way when one of its
            // factors is a transpose: (Wᵀ A)ᵀ = Aᵀ W, which can then join other terms, as in
            // Aᵀ W + A W = (A + Aᵀ) W.
            Op::MatMul
                if self.absorbs_transpose(a)
                    || self
                        .args(a)
                        .iter()
                        .any(|&x| matches!(self.op(x), Op::Transpose)) =>
            {
                let (x, y) = (self.args(a)[0], self.args(a)[1]);
                let (xt, yt) = (self.transpose(x), self.transpose(y));
                self.matmul(yt, xt)
            }
            // transpose-sum: (x ± y)ᵀ = xᵀ ± yᵀ when both transposes are free
            Op::Add | Op::Sub
                if !self.is_primal(a)
                    && self.args(a).iter().all(|&x| self.absorbs_transpose(x)) =>
            {
                let op = self.op(a).clone();
                let (x, y) = (self.args(a)[0], self.args(a)[1]);
                let (xt, yt) = (self.transpose(x), self.transpose(y));
                if op == Op::Add {
                    self.add(xt, yt)
                } else {
                    self.sub(xt, yt)
                }
            }
            _ => self.node(Op::Transpose, vec![a], t),
        }
    }

    /// A scalar times a matrix.
    pub fn scale(&mut self, s: NodeId, a: NodeId) -> NodeId {
        let ty = self.ty(a);
        if !ty.is_matrix() {
            return self.mul(s, a);
        }
        // scale-one, scale-zero
        if self.is_lit(s, 1.0) {
            return a;
        }
        if self.is_lit(s, -1.0) {
            return self.neg(a);
        }
        if self.is_zero(s) || self.is_zero(a) {
            return self.zero(ty);
        }
        if let Some(n) = self.push_into_select(a, |g, x| g.scale(s, x)) {
            return n;
        }
        if let Some(n) = self.push_into_select(s, |g, x| g.scale(x, a)) {
            return n;
        }
        // scale-reciprocal: (1/d) a = a / d
        if matches!(self.op(s), Op::Div) && self.is_lit(self.args(s)[0], 1.0) {
            let d = self.args(s)[1];
            return self.div(a, d);
        }
        match self.op(a).clone() {
            // scale-scale: s (t a) = (s t) a
            Op::Scale => {
                let (t, x) = (self.args(a)[0], self.args(a)[1]);
                let st = self.mul(s, t);
                self.scale(st, x)
            }
            // scale-neg: s (−a) = (−s) a
            Op::Neg => {
                let x = self.args(a)[0];
                let ns = self.neg(s);
                self.scale(ns, x)
            }
            // scale-embed: s embed(x) = embed(s x), only the block is scaled
            Op::Embed(r, c) => {
                let x = self.args(a)[0];
                let sx = self.scale(s, x);
                let shape = ty
                    .shape()
                    .unwrap_or(Shape::new(Dim::Fixed(1), Dim::Fixed(1)));
                self.embed(sx, r, c, shape)
            }
            _ => self.node(Op::Scale, vec![s, a], ty),
        }
    }

    /// The product of two values of any kinds: scalar·scalar, scalar·matrix (a scaling) or the
    /// entrywise product of two matrices of one shape.
    pub fn times(&mut self, a: NodeId, b: NodeId) -> NodeId {
        match (self.ty(a).is_matrix(), self.ty(b).is_matrix()) {
            (false, true) => self.scale(a, b),
            (true, false) => self.scale(b, a),
            _ => self.mul(a, b),
        }
    }

    /// The entrywise product (for scalars, the product).
    pub fn mul(&mut self, a: NodeId, b: NodeId) -> NodeId {
        if self.ty(a).is_matrix() != self.ty(b).is_matrix() {
            return self.times(a, b);
        }
        let ty = self.sum_ty(a, b);
        if self.is_zero(a) || self.is_zero(b) {
            return self.zero(ty);
        }
        if let (Some(x), Some(y)) = (self.lit_value(a), self.lit_value(b)) {
            return self.lit(x * y);
        }
        if let Some(n) = self.push_into_select(a, |g, x| g.mul(x, b)) {
            return n;
        }
        if let Some(n) = self.push_into_select(b, |g, y| g.mul(a, y)) {
            return n;
        }
        // mul-one: 1 b = b, J ⊙ b = b
        if self.is_lit(a, 1.0) || matches!(self.op(a), Op::Ones) {
            return b;
        }
        if self.is_lit(b, 1.0) || matches!(self.op(b), Op::Ones) {
            return a;
        }
        if self.is_lit(a, -1.0) {
            return self.neg(b);
        }
        if self.is_lit(b, -1.0) {
            return self.neg(a);
        }
        for (p, q) in [(a, b), (b, a)] {
            match self.op(p).clone() {
                // mul-ones-scaled: A ⊙ (s J) = s A
                Op::Scale if matches!(self.op(self.args(p)[1]), Op::Ones) && ty.is_matrix() => {
                    let s = self.args(p)[0];
                    return self.scale(s, q);
                }
                // mul-ones-negated: A ⊙ (−J) = −A
                Op::Neg if matches!(self.op(self.args(p)[0]), Op::Ones) && ty.is_matrix() => {
                    return self.neg(q);
                }
                // mul-ones-divided: A ⊙ (J / s) = A / s
                Op::Div
                    if matches!(self.op(self.args(p)[0]), Op::Ones)
                        && !self.ty(self.args(p)[1]).is_matrix() =>
                {
                    let s = self.args(p)[1];
                    return self.div(q, s);
                }
                // mul-recip: a ⊙ (1 ⊘ b) = a ⊘ b
                Op::Elem(crate::ir::Func::Recip) => {
                    let d = self.args(p)[0];
                    return self.div(q, d);
                }
                // mul-sign: sign(a) ⊙ a = |a|
                Op::Elem(crate::ir::Func::Sign) if self.args(p)[0] == q => {
                    return self.elem(crate::ir::Func::Abs, q);
                }
                _ => {}
            }
        }
        // mul-div: (p / q) r = (p r) / q when p r simplifies (sign(d)/|d| · d = 1)
        for (p, r) in [(a, b), (b, a)] {
            if matches!(self.op(p), Op::Div) && !ty.is_matrix() {
                let (num, den) = (self.args(p)[0], self.args(p)[1]);
                let before = self.len();
                let pr = self.mul(num, r);
                let simplified = pr.index() < before || !matches!(self.op(pr), Op::Mul);
                if simplified {
                    return self.div(pr, den);
                }
            }
        }
        // mul-div-cancel: (x / a) a = x, the derivative of ln a times a
        for (p, q) in [(a, b), (b, a)] {
            if matches!(self.op(p), Op::Div) && self.args(p)[1] == q && self.ty(p) == self.ty(q) {
                return self.args(p)[0];
            }
        }
        // mul-reciprocal: (1/d) b = b / d
        for (p, q) in [(a, b), (b, a)] {
            if matches!(self.op(p), Op::Div)
                && self.is_lit(self.args(p)[0], 1.0)
                && !self.ty(q).is_matrix()
            {
                let d = self.args(p)[1];
                return self.div(q, d);
            }
        }
        // mul-neg: a ⊙ (−b) = −(a ⊙ b) for matrices, so that the sign joins a scaling later
        // instead of costing a pass of its own
        if ty.is_matrix() {
            for (p, q) in [(a, b), (b, a)] {
                if matches!(self.op(q), Op::Neg) && !self.is_primal(q) {
                    let inner = self.args(q)[0];
                    let m = self.mul(p, inner);
                    return self.neg(m);
                }
            }
        }
        // mul-lit-first: keep a literal factor on the left, where formulas show it
        let (a, b) = if self.lit_value(b).is_some() {
            (b, a)
        } else {
            (a, b)
        };
        // mul-lit-lit: c (d x) = (c d) x
        if let (Some(c), Op::Mul) = (self.lit_value(a), self.op(b).clone()) {
            let (d, x) = (self.args(b)[0], self.args(b)[1]);
            if let Some(d) = self.lit_value(d) {
                let cd = self.lit(c * d);
                return self.mul(cd, x);
            }
        }
        // The operands are ordered by id, so a ⊙ b and b ⊙ a are one node.
        let (a, b) = if self.lit_value(a).is_none() && b < a {
            (b, a)
        } else {
            (a, b)
        };
        self.node(Op::Mul, vec![a, b], ty)
    }

    pub fn div(&mut self, a: NodeId, b: NodeId) -> NodeId {
        let ty = self.ty(a);
        if let Some(n) = self.push_into_select(a, |g, x| g.div(x, b)) {
            return n;
        }
        // div-sigmoid: eᶻ ⊘ (1 + eᶻ) = σ(z), which stays finite where eᶻ overflows
        if let (Op::Elem(crate::ir::Func::Exp), Op::AddScalar | Op::Add) =
            (self.op(a).clone(), self.op(b).clone())
        {
            let (p, q) = (self.args(b)[0], self.args(b)[1]);
            let one_plus_a = (p == a && self.is_lit(q, 1.0)) || (q == a && self.is_lit(p, 1.0));
            if one_plus_a {
                let z = self.args(a)[0];
                return self.elem(crate::ir::Func::Sigmoid, z);
            }
        }
        if self.is_lit(b, 1.0) {
            return a;
        }
        // div-ones: J ⊘ B = 1 ⊘ B, without the matrix of ones
        if matches!(self.op(a), Op::Ones) && self.ty(b).is_matrix() {
            return self.elem(crate::ir::Func::Recip, b);
        }
        // div-self: a / a = 1 (a scalar: the derivative of a logarithm times its argument)
        if a == b && !ty.is_matrix() {
            return self.lit(1.0);
        }
        if self.is_zero(a) {
            return a;
        }
        if let (Some(x), Some(y)) = (self.lit_value(a), self.lit_value(b)) {
            return self.lit(x / y);
        }
        self.node(Op::Div, vec![a, b], ty)
    }

    /// The inner product ⟨a, b⟩ = Σ a_ij b_ij; for scalars, the product.
    pub fn dot(&mut self, a: NodeId, b: NodeId) -> NodeId {
        if !self.ty(a).is_matrix() || !self.ty(b).is_matrix() {
            return self.mul(a, b);
        }
        if self.is_zero(a) || self.is_zero(b) {
            return self.lit(0.0);
        }
        // dot-self: ⟨a, a⟩ = ‖a‖²
        if a == b {
            return self.node(Op::NormSq, vec![a], Ty::Scalar);
        }
        // dot-identity: ⟨I, B⟩ = tr(B)
        for (x, y) in [(a, b), (b, a)] {
            if self.is_square_identity(x) {
                return self.trace(y);
            }
        }
        // dot-ones: ⟨J, b⟩ = sum(b)
        if matches!(self.op(a), Op::Ones) {
            return self.sum(b);
        }
        if matches!(self.op(b), Op::Ones) {
            return self.sum(a);
        }
        // dot-scale: ⟨s a, b⟩ = s ⟨a, b⟩
        for (x, y) in [(a, b), (b, a)] {
            if matches!(self.op(x), Op::Scale) {
                let (s, inner) = (self.args(x)[0], self.args(x)[1]);
                let d = self.dot(inner, y);
                return self.mul(s, d);
            }
        }
        let (a, b) = if b < a { (b, a) } else { (a, b) };
        self.node(Op::Dot, vec![a, b], Ty::Scalar)
    }

    pub fn sum(&mut self, a: NodeId) -> NodeId {
        if !self.ty(a).is_matrix() {
            return a;
        }
        self.node(Op::Sum, vec![a], Ty::Scalar)
    }

    pub fn trace(&mut self, a: NodeId) -> NodeId {
        self.node(Op::Trace, vec![a], Ty::Scalar)
    }

    pub fn entry(&mut self, a: NodeId, row: Index, col: Index) -> NodeId {
        self.node(Op::Entry(row, col), vec![a], Ty::Scalar)
    }

    /// The matrix of `shape` holding `s` at (row, col) and zero elsewhere.
    pub fn scatter(&mut self, s: NodeId, row: Index, col: Index, shape: Shape) -> NodeId {
        if self.is_zero(s) {
            return self.zero(Ty::Matrix(shape));
        }
        // scatter-1x1: a 1×1 matrix holding s is s I
        if shape.rows == Dim::Fixed(1) && shape.cols == Dim::Fixed(1) {
            let one = self.identity(shape);
            return self.scale(s, one);
        }
        self.node(Op::Scatter(row, col), vec![s], Ty::Matrix(shape))
    }

    pub fn kron(&mut self, a: NodeId, b: NodeId, shape: Shape) -> NodeId {
        if self.is_zero(a) || self.is_zero(b) {
            return self.zero(Ty::Matrix(shape));
        }
        self.node(Op::Kron, vec![a, b], Ty::Matrix(shape))
    }

    pub fn kron_adj_left(&mut self, cbar: NodeId, b: NodeId, shape: Shape) -> NodeId {
        self.node(Op::KronAdjLeft, vec![cbar, b], Ty::Matrix(shape))
    }

    pub fn kron_adj_right(&mut self, cbar: NodeId, a: NodeId, shape: Shape) -> NodeId {
        self.node(Op::KronAdjRight, vec![cbar, a], Ty::Matrix(shape))
    }

    pub fn inverse(&mut self, a: NodeId) -> NodeId {
        // inverse-inverse: (A⁻¹)⁻¹ = A
        if matches!(self.op(a), Op::Inverse) {
            return self.args(a)[0];
        }
        let ty = self.ty(a);
        self.node(Op::Inverse, vec![a], ty)
    }

    pub fn det(&mut self, a: NodeId) -> NodeId {
        self.node(Op::Det, vec![a], Ty::Scalar)
    }

    pub fn elem(&mut self, f: crate::ir::Func, a: NodeId) -> NodeId {
        let ty = self.ty(a);
        self.node(Op::Elem(f), vec![a], ty)
    }

    pub fn powi(&mut self, a: NodeId, k: i32) -> NodeId {
        let ty = self.ty(a);
        match k {
            // powi-one: a¹ = a
            1 => a,
            // powi-zero: a⁰ = 1 (entrywise)
            0 => match ty {
                Ty::Matrix(s) => self.ones(s),
                _ => self.lit(1.0),
            },
            _ => self.node(Op::Powi(k), vec![a], ty),
        }
    }

    pub fn powf(&mut self, a: NodeId, c: NodeId) -> NodeId {
        let ty = self.ty(a);
        if self.is_lit(c, 1.0) {
            return a;
        }
        self.node(Op::Powf, vec![a, c], ty)
    }

    /// `[a > c]`, entrywise.
    pub fn above(&mut self, a: NodeId, c: NodeId) -> NodeId {
        let ty = self.ty(a);
        self.node(Op::Above, vec![a, c], ty)
    }

    /// `[a < c] = [−a > −c]`, entrywise.
    pub fn below(&mut self, a: NodeId, c: NodeId) -> NodeId {
        let (na, nc) = (self.neg(a), self.neg(c));
        self.above(na, nc)
    }

    /// aᵏ for a square matrix: I for k = 0, a for k = 1.
    pub fn matpow(&mut self, a: NodeId, k: u32) -> NodeId {
        match k {
            0 => {
                let s = self
                    .shape(a)
                    .unwrap_or(Shape::new(Dim::Fixed(1), Dim::Fixed(1)));
                self.identity(s)
            }
            1 => a,
            _ => {
                let ty = self.ty(a);
                self.node(Op::MatPow(k), vec![a], ty)
            }
        }
    }

    /// A node as a power of a base: (x, k) for xᵏ, (a, 1) for any other square matrix.
    fn as_power(&self, n: NodeId) -> Option<(NodeId, u32)> {
        match self.op(n) {
            Op::MatPow(k) => Some((self.args(n)[0], *k)),
            _ => {
                let s = self.shape(n)?;
                self.dims.same(s.rows, s.cols).then_some((n, 1))
            }
        }
    }

    pub fn add_scalar(&mut self, a: NodeId, s: NodeId) -> NodeId {
        if !self.ty(a).is_matrix() {
            return self.add(a, s);
        }
        if self.is_zero(s) {
            return a;
        }
        let ty = self.ty(a);
        self.node(Op::AddScalar, vec![a, s], ty)
    }
}
