//! Smart constructors for branches (`Op::Select` under an `Op::Compare` condition) and for
//! products by a constant of unknown kind (`Op::KindProduct`), in the style of `mod.rs`: a
//! branch whose sides agree is that side, and operations are pushed into a branch's sides
//! (select-push) so that each is computed only where it is taken.

use crate::ir::{Cmp, Graph, NodeId, Op};
use crate::shape::Ty;

impl Graph {
    /// k a (or kᵀ a) for a constant k of a kind only the compiler knows, of the given type.
    pub fn kind_product(&mut self, k: NodeId, a: NodeId, transposed: bool, ty: Ty) -> NodeId {
        if self.is_zero(a) {
            return self.zero(ty);
        }
        self.node(Op::KindProduct { transposed }, vec![k, a], ty)
    }

    /// `[a cmp b]`, entrywise: a condition. Two literals are compared now.
    pub fn compare(&mut self, cmp: Cmp, a: NodeId, b: NodeId) -> NodeId {
        if let (Some(x), Some(y)) = (self.lit_value(a), self.lit_value(b)) {
            return self.lit(if cmp.holds(x, y) { 1.0 } else { 0.0 });
        }
        let ty = if self.ty(a).is_matrix() {
            self.ty(a)
        } else {
            self.ty(b)
        };
        self.node(Op::Compare(cmp), vec![a, b], ty)
    }

    /// a where m ≠ 0, b elsewhere: a branch. The same value on both sides is that value
    /// (select-same), and a literal condition picks its side (select-literal).
    pub fn select(&mut self, m: NodeId, a: NodeId, b: NodeId) -> NodeId {
        // select-same-condition: inside the side where m holds, m ? p : q is p, also under
        // branches on other conditions (m ? (n ? (m ? p : q) : r) : s)
        let a = self.assuming(a, m, true, 4);
        let b = self.assuming(b, m, false, 4);
        if a == b {
            return a;
        }
        if let Some(v) = self.lit_value(m) {
            return if v != 0.0 { a } else { b };
        }
        let ty = self.ty(a);
        self.node(Op::Select, vec![m, a, b], ty)
    }

    /// `n` where the scalar condition m is known to hold (`holds`) or to fail: a branch on m
    /// is its side, through branches on other conditions up to `depth`.
    fn assuming(&mut self, n: NodeId, m: NodeId, holds: bool, depth: u32) -> NodeId {
        if !matches!(self.op(n), Op::Select) {
            return n;
        }
        let (c, p, q) = (self.args(n)[0], self.args(n)[1], self.args(n)[2]);
        if c == m {
            return self.assuming(if holds { p } else { q }, m, holds, depth);
        }
        // Through other branches only for whole (scalar) conditions.
        if depth == 0 || self.ty(c).is_matrix() || self.ty(m).is_matrix() {
            return n;
        }
        let (p2, q2) = (
            self.assuming(p, m, holds, depth - 1),
            self.assuming(q, m, holds, depth - 1),
        );
        if (p2, q2) == (p, q) {
            return n;
        }
        self.select(c, p2, q2)
    }

    /// `m ? f(a) : f(b)` for a branch `m ? a : b` (select-push): f is applied only where its
    /// branch is taken, so a NaN or ∞ that f makes of the branch not taken (the 1/w of a log
    /// guarded by w > 0, at w = 0) stays out of the result. For an entrywise condition only
    /// where a side is zero (else both sides would be computed in full); for a scalar one
    /// always, since only the side taken runs, and the derivative of each branch then reads
    /// as one case of the formula.
    pub(super) fn push_into_select(
        &mut self,
        s: NodeId,
        f: impl Fn(&mut Graph, NodeId) -> NodeId,
    ) -> Option<NodeId> {
        if !matches!(self.op(s), Op::Select) {
            return None;
        }
        let (m, a, b) = (self.args(s)[0], self.args(s)[1], self.args(s)[2]);
        let scalar_condition = !self.ty(m).is_matrix();
        if !(scalar_condition || self.is_zero(a) || self.is_zero(b)) {
            return None;
        }
        let (fa, fb) = (f(self, a), f(self, b));
        Some(self.select(m, fa, fb))
    }

    /// [`Graph::push_into_select`] for a branch on a scalar condition only: for operations
    /// that are not entrywise (products, transposes), which an entrywise condition does not
    /// commute with.
    pub(super) fn push_into_select_scalar(
        &mut self,
        s: NodeId,
        f: impl Fn(&mut Graph, NodeId) -> NodeId,
    ) -> Option<NodeId> {
        if !matches!(self.op(s), Op::Select) || self.ty(self.args(s)[0]).is_matrix() {
            return None;
        }
        self.push_into_select(s, f)
    }
}
