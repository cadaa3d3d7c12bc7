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
        // select-same-condition: inside the side where m holds, m ? p : q is p
        let a = match self.op(a) {
            Op::Select if self.args(a)[0] == m => self.args(a)[1],
            _ => a,
        };
        let b = match self.op(b) {
            Op::Select if self.args(b)[0] == m => self.args(b)[2],
            _ => b,
        };
        if a == b {
            return a;
        }
        if let Some(v) = self.lit_value(m) {
            return if v != 0.0 { a } else { b };
        }
        let ty = self.ty(a);
        self.node(Op::Select, vec![m, a, b], ty)
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
