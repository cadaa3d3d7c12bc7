//! Smart constructors for the structural operations (triangles, diagonals, row and column sums
//! and their broadcasts, views) and the factorisations (triangular solves, Cholesky), in the
//! style of `simplify.rs`: zeros never reach the generated code, and a structure that undoes
//! another (the view of the block just embedded) cancels.

use crate::ir::{Graph, Index, NodeId, Op, Part};
use crate::shape::{Dim, Shape, Ty};

fn col(n: Dim) -> Shape {
    Shape::new(n, Dim::Fixed(1))
}

fn row(n: Dim) -> Shape {
    Shape::new(Dim::Fixed(1), n)
}

impl Graph {
    fn shape_or_unit(&self, a: NodeId) -> Shape {
        self.shape(a)
            .unwrap_or(Shape::new(Dim::Fixed(1), Dim::Fixed(1)))
    }

    pub fn triangle(&mut self, part: Part, a: NodeId) -> NodeId {
        let ty = self.ty(a);
        if self.is_zero(a) {
            return a;
        }
        self.node(Op::Triangle(part), vec![a], ty)
    }

    /// The diagonal of a square matrix, as a column.
    pub fn diagonal(&mut self, a: NodeId) -> NodeId {
        let s = self.shape_or_unit(a);
        let ty = Ty::Matrix(col(s.rows));
        if self.is_zero(a) {
            return self.zero(ty);
        }
        // diagonal-of-diagonal: diag(Diag(v)) = v
        if matches!(self.op(a), Op::FromDiagonal) {
            return self.args(a)[0];
        }
        self.node(Op::Diagonal, vec![a], ty)
    }

    pub fn from_diagonal(&mut self, v: NodeId) -> NodeId {
        let s = self.shape_or_unit(v);
        let ty = Ty::Matrix(Shape::new(s.rows, s.rows));
        if self.is_zero(v) {
            return self.zero(ty);
        }
        self.node(Op::FromDiagonal, vec![v], ty)
    }

    /// 1ᵀ a: the row of column sums.
    pub fn row_sum(&mut self, a: NodeId) -> NodeId {
        let s = self.shape_or_unit(a);
        let ty = Ty::Matrix(row(s.cols));
        if self.is_zero(a) {
            return self.zero(ty);
        }
        self.node(Op::RowSum, vec![a], ty)
    }

    /// a 1: the column of row sums.
    pub fn column_sum(&mut self, a: NodeId) -> NodeId {
        let s = self.shape_or_unit(a);
        let ty = Ty::Matrix(col(s.rows));
        if self.is_zero(a) {
            return self.zero(ty);
        }
        self.node(Op::ColumnSum, vec![a], ty)
    }

    /// The row `r` repeated as every row of `shape`.
    pub fn repeat_row(&mut self, r: NodeId, shape: Shape) -> NodeId {
        if self.is_zero(r) {
            return self.zero(Ty::Matrix(shape));
        }
        // repeat-unit-row: the row s eₖᵀ repeated is s 1 in column k
        if let Op::Scatter(i, k) = self.op(r).clone() {
            let s = self.args(r)[0];
            let ones = self.ones(Shape::new(shape.rows, Dim::Fixed(1)));
            let col = self.scale(s, ones);
            let _ = i;
            return self.embed(col, Index::Lit(0), k, shape);
        }
        self.node(Op::RepeatRow, vec![r], Ty::Matrix(shape))
    }

    /// The column `c` repeated as every column of `shape`.
    pub fn repeat_column(&mut self, c: NodeId, shape: Shape) -> NodeId {
        if self.is_zero(c) {
            return self.zero(Ty::Matrix(shape));
        }
        self.node(Op::RepeatColumn, vec![c], Ty::Matrix(shape))
    }

    /// The block of `a` of `shape` from (row, col) on.
    pub fn view(&mut self, a: NodeId, r: Index, c: Index, shape: Shape) -> NodeId {
        if self.is_zero(a) {
            return self.zero(Ty::Matrix(shape));
        }
        // view-identity-row: row k of I (the whole row) is the unit row e_kᵀ, without I
        let whole_row = self
            .shape(a)
            .is_some_and(|sa| self.dims.same(sa.cols, shape.cols));
        if matches!(self.op(a), Op::Identity)
            && shape.rows == Dim::Fixed(1)
            && c == Index::Lit(0)
            && whole_row
        {
            let one = self.lit(1.0);
            return self.scatter(one, Index::Lit(0), r, shape);
        }
        // view-embed: the block just embedded is the embedded matrix
        if *self.op(a) == Op::Embed(r.clone(), c.clone()) {
            let inner = self.args(a)[0];
            if self.ty(inner) == Ty::Matrix(shape) {
                return inner;
            }
        }
        self.node(Op::View(r, c), vec![a], Ty::Matrix(shape))
    }

    /// The matrix of `shape` that is `b` from (row, col) on and zero elsewhere.
    pub fn embed(&mut self, b: NodeId, r: Index, c: Index, shape: Shape) -> NodeId {
        if self.is_zero(b) {
            return self.zero(Ty::Matrix(shape));
        }
        self.node(Op::Embed(r, c), vec![b], Ty::Matrix(shape))
    }

    pub fn cross(&mut self, a: NodeId, b: NodeId) -> NodeId {
        let ty = self.ty(a);
        if self.is_zero(a) || self.is_zero(b) {
            return self.zero(ty);
        }
        self.node(Op::Cross, vec![a, b], ty)
    }

    /// The entries of `a`, column by column, in `shape` (of the same size).
    pub fn reshape(&mut self, a: NodeId, shape: Shape) -> NodeId {
        if self.ty(a) == Ty::Matrix(shape) {
            return a;
        }
        if self.is_zero(a) {
            return self.zero(Ty::Matrix(shape));
        }
        // reshape-reshape: only the last shape counts
        let a = if matches!(self.op(a), Op::Reshape) {
            self.args(a)[0]
        } else {
            a
        };
        if self.ty(a) == Ty::Matrix(shape) {
            return a;
        }
        self.node(Op::Reshape, vec![a], Ty::Matrix(shape))
    }

    /// diag(d) a: the rows of a scaled by the column d.
    pub fn row_scale(&mut self, d: NodeId, a: NodeId) -> NodeId {
        let ty = self.ty(a);
        if self.is_zero(d) || self.is_zero(a) {
            return self.zero(ty);
        }
        // row-scale-ones: diag(1) a = a
        if matches!(self.op(d), Op::Ones) {
            return a;
        }
        // row-scale-column: diag(d) a = d ⊙ a for a column a, which the entrywise rules
        // simplify further (signs and scalings gathered into one factor)
        if self.shape(a).is_some_and(|s| s.cols == Dim::Fixed(1)) && self.ty(d) == ty {
            return self.mul(d, a);
        }
        // row-scale-embed: diag(d) embed(x) = embed(diag(d) x) for a block of full columns
        if let Op::Embed(r, c) = self.op(a).clone() {
            let x = self.args(a)[0];
            let full = r == Index::Lit(0)
                && matches!((self.shape(x), self.shape(d)), (Some(sx), Some(sd)) if self.dims.same(sx.rows, sd.rows));
            if full {
                let dx = self.row_scale(d, x);
                let shape = self.shape_or_unit(a);
                return self.embed(dx, r, c, shape);
            }
        }
        self.node(Op::RowScale, vec![d, a], ty)
    }

    /// T⁻¹ b or T⁻ᵀ b for the triangle of t.
    pub fn tri_solve(&mut self, t: NodeId, b: NodeId, upper: bool, transpose: bool) -> NodeId {
        let (st, sb) = (self.shape_or_unit(t), self.shape_or_unit(b));
        let rows = if transpose { st.cols } else { st.rows };
        let ty = Ty::Matrix(Shape::new(rows, sb.cols));
        if self.is_zero(b) {
            return self.zero(ty);
        }
        self.node(Op::TriSolve { upper, transpose }, vec![t, b], ty)
    }

    pub fn cholesky(&mut self, a: NodeId) -> NodeId {
        let ty = self.ty(a);
        self.node(Op::Cholesky, vec![a], ty)
    }

    pub fn extremum(&mut self, a: NodeId, max: bool) -> NodeId {
        self.node(Op::Extremum { max }, vec![a], Ty::Scalar)
    }

    pub fn arg_extremum(&mut self, a: NodeId, max: bool) -> NodeId {
        let ty = self.ty(a);
        self.node(Op::ArgExtremum { max }, vec![a], ty)
    }

    /// L⁻¹ X L⁻ᵀ for the lower triangle L of `l`: two triangular solves, no inverse.
    pub fn congruence_by_inverse(&mut self, l: NodeId, x: NodeId) -> NodeId {
        let w = self.tri_solve(l, x, false, false);
        let wt = self.transpose(w);
        let v = self.tri_solve(l, wt, false, false);
        self.transpose(v)
    }

    /// L⁻ᵀ X L⁻¹ for the lower triangle L of `l`.
    pub fn congruence_by_inverse_transpose(&mut self, l: NodeId, x: NodeId) -> NodeId {
        let xt = self.transpose(x);
        let w = self.tri_solve(l, xt, false, true);
        let wt = self.transpose(w);
        self.tri_solve(l, wt, false, true)
    }
}

impl Graph {
    /// A product with a vector of ones, as the broadcast or the sum it is: 1 r repeats the
    /// row r, c 1ᵀ repeats the column c, 1ᵀ a sums the columns of a and a 1 its rows. The
    /// ones-vector of a bias (`DVector::from_element(n, 1.0) * b.transpose()`) or of a sum is
    /// then never built, and the adjoint of a repeated row is a row sum.
    pub fn product_with_ones(&mut self, a: NodeId, b: NodeId) -> Option<NodeId> {
        let (sa, sb) = (self.shape(a)?, self.shape(b)?);
        let one = Dim::Fixed(1);
        let is_ones = |g: &Graph, n: NodeId| matches!(g.op(n), Op::Ones);
        let shape = Shape::new(sa.rows, sb.cols);
        if is_ones(self, a) && sa.cols == one && sb.rows == one {
            return Some(self.repeat_row(b, shape));
        }
        if is_ones(self, b) && sb.rows == one && sa.cols == one {
            return Some(self.repeat_column(a, shape));
        }
        if is_ones(self, a) && sa.rows == one {
            return Some(self.row_sum(b));
        }
        if is_ones(self, b) && sb.cols == one {
            return Some(self.column_sum(a));
        }
        None
    }
}
