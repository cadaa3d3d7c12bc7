//! Smart constructors for matrix products: zeros, identities and transposes absorbed, and chains
//! of products reassociated to the cheapest order, in the style of `mod.rs`.

use crate::ir::{Graph, NodeId, Op};
use crate::shape::{Dim, Shape, Ty};

impl Graph {
    pub fn matmul(&mut self, a: NodeId, b: NodeId) -> NodeId {
        let (Some(sa), Some(sb)) = (self.shape(a), self.shape(b)) else {
            return self.times(a, b);
        };
        if let Some(n) = self.push_into_select_scalar(a, |g, x| g.matmul(x, b)) {
            return n;
        }
        if let Some(n) = self.push_into_select_scalar(b, |g, y| g.matmul(a, y)) {
            return n;
        }
        let ty = Ty::Matrix(Shape::new(sa.rows, sb.cols));
        // matmul-zero
        if self.is_zero(a) || self.is_zero(b) {
            return self.zero(ty);
        }
        // matmul-kron-mixed: (M ⊗ I)(I ⊗ A) = M ⊗ A (the mixed-product rule), so the Jacobian
        // of A X B is the one Kronecker product Bᵀ ⊗ A
        if let (Op::Kron, Op::Kron) = (self.op(a), self.op(b)) {
            let (m, i1) = (self.args(a)[0], self.args(a)[1]);
            let (i2, x) = (self.args(b)[0], self.args(b)[1]);
            if self.is_square_identity(i1) && self.is_square_identity(i2) {
                return self.kron(m, x, Shape::new(sa.rows, sb.cols));
            }
        }
        // matmul-unit-row: a (s eₖᵀ) = s a in column k, the rest zero (a Jacobian's column)
        if let Op::Scatter(r, c) = self.op(b).clone() {
            if sa.cols == Dim::Fixed(1) && sb.rows == Dim::Fixed(1) {
                let s = self.args(b)[0];
                let sa_ = self.scale(s, a);
                return self.embed(sa_, r, c, Shape::new(sa.rows, sb.cols));
            }
        }
        // matmul-ones: products with a vector of ones are broadcasts and sums (structure.rs)
        if let Some(n) = self.product_with_ones(a, b) {
            return n;
        }
        // matmul-identity: I b = b, a I = a
        if self.is_square_identity(a) {
            return b;
        }
        if self.is_square_identity(b) {
            return a;
        }
        // matmul-scale: (s a) b = s (a b), a (s b) = s (a b): one scaling, applied last
        if matches!(self.op(a), Op::Scale) {
            let (s, x) = (self.args(a)[0], self.args(a)[1]);
            let p = self.matmul(x, b);
            return self.scale(s, p);
        }
        if matches!(self.op(b), Op::Scale) {
            let (s, x) = (self.args(b)[0], self.args(b)[1]);
            let p = self.matmul(a, x);
            return self.scale(s, p);
        }
        // matmul-neg: (−a) b = −(a b)
        if matches!(self.op(a), Op::Neg) {
            let x = self.args(a)[0];
            let p = self.matmul(x, b);
            return self.neg(p);
        }
        if matches!(self.op(b), Op::Neg) {
            let x = self.args(b)[0];
            let p = self.matmul(a, x);
            return self.neg(p);
        }
        // matmul-power: xⁱ xʲ = xⁱ⁺ʲ, and (xⁱ)ᵀ (xʲ)ᵀ = (xʲ⁺ⁱ)ᵀ: powers of one matrix commute,
        // so the k terms of the derivative of tr(xᵏ) are one node, k (xᵏ⁻¹)ᵀ.
        let max = crate::ir::MAX_POWER;
        if let (Op::Transpose, Op::Transpose) = (self.op(a), self.op(b)) {
            let (p, q) = (self.args(a)[0], self.args(b)[0]);
            if let (Some((x, i)), Some((y, j))) = (self.as_power(p), self.as_power(q)) {
                if let (true, Some(k)) = (x == y, i.checked_add(j).filter(|&k| k <= max)) {
                    let pw = self.matpow(x, k);
                    return self.transpose(pw);
                }
            }
        }
        if let (Some((x, i)), Some((y, j))) = (self.as_power(a), self.as_power(b)) {
            if let (true, Some(k)) = (x == y, i.checked_add(j).filter(|&k| k <= max)) {
                return self.matpow(x, k);
            }
        }
        // matmul-reassociate: a chain of products built by differentiation is multiplied in
        // the cheapest order its shapes allow, e.g. Cᵀ (a bᵀ) Cᵀ as (Cᵀ a)(bᵀ Cᵀ), O(n²) not O(n³).
        if let Some(better) = self.reassociate(a, b) {
            return better;
        }
        self.node(Op::MatMul, vec![a, b], ty)
    }

    /// The factors of a product: fresh products (built by differentiation) are opened up,
    /// everything else (the function's own values among them) is one factor.
    fn factors(&self, n: NodeId, out: &mut Vec<NodeId>) {
        // Long chains are left as built (the reordering considers at most 16 factors).
        if *self.op(n) == Op::MatMul && !self.is_primal(n) && out.len() <= 16 {
            let (a, b) = (self.args(n)[0], self.args(n)[1]);
            self.factors(a, out);
            self.factors(b, out);
        } else {
            out.push(n);
        }
    }

    /// The estimated cost of computing a node's fresh products.
    fn product_cost(&self, n: NodeId) -> f64 {
        if *self.op(n) != Op::MatMul || self.is_primal(n) {
            return 0.0;
        }
        let (a, b) = (self.args(n)[0], self.args(n)[1]);
        let (sa, sb) = (self.shape(a), self.shape(b));
        let own = match (sa, sb) {
            (Some(x), Some(y)) => {
                self.dims.estimate(x.rows) * self.dims.estimate(x.cols) * self.dims.estimate(y.cols)
            }
            _ => 0.0,
        };
        own + self.product_cost(a) + self.product_cost(b)
    }

    /// The product a·b in the order of least estimated cost (the matrix-chain order), if that
    /// is at most half the cost of the order as built.
    fn reassociate(&mut self, a: NodeId, b: NodeId) -> Option<NodeId> {
        let mut fs = Vec::new();
        self.factors(a, &mut fs);
        self.factors(b, &mut fs);
        if fs.len() < 3 || fs.len() > 16 {
            return None;
        }
        let shapes: Option<Vec<Shape>> = fs.iter().map(|&f| self.shape(f)).collect();
        let shapes = shapes?;
        // d[k] is the estimated size between factor k−1 and factor k.
        let mut d: Vec<f64> = vec![self.dims.estimate(shapes[0].rows)];
        d.extend(shapes.iter().map(|s| self.dims.estimate(s.cols)));
        let n = fs.len();
        let mut cost = vec![vec![0.0f64; n]; n];
        let mut split = vec![vec![0usize; n]; n];
        for len in 2..=n {
            for i in 0..=n - len {
                let j = i + len - 1;
                cost[i][j] = f64::INFINITY;
                for k in i..j {
                    let c = cost[i][k] + cost[k + 1][j] + d[i] * d[k + 1] * d[j + 1];
                    if c < cost[i][j] {
                        cost[i][j] = c;
                        split[i][j] = k;
                    }
                }
            }
        }
        let (sa, sb) = (self.shape(a)?, self.shape(b)?);
        let as_built = self.product_cost(a)
            + self.product_cost(b)
            + self.dims.estimate(sa.rows)
                * self.dims.estimate(sa.cols)
                * self.dims.estimate(sb.cols);
        if cost[0][n - 1] * 2.0 > as_built {
            return None;
        }
        Some(self.build_chain(&fs, &shapes, &split, 0, n - 1))
    }

    fn build_chain(
        &mut self,
        fs: &[NodeId],
        shapes: &[Shape],
        split: &[Vec<usize>],
        i: usize,
        j: usize,
    ) -> NodeId {
        if i == j {
            return fs[i];
        }
        let k = split[i][j];
        let left = self.build_chain(fs, shapes, split, i, k);
        let right = self.build_chain(fs, shapes, split, k + 1, j);
        let ty = Ty::Matrix(Shape::new(shapes[i].rows, shapes[j].cols));
        self.node(Op::MatMul, vec![left, right], ty)
    }
}
