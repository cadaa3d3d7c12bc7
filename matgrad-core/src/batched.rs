//! Jacobians built whole: the forward differential of every node with respect to all entries
//! of a vector variable at once, J_C = ∂vec(C)/∂xᵀ, seeded with J_x = I.
//!
//! Each operation's rule (`Linear::jacobian` and its kin, in `rules/`) is its forward rule with
//! the direction replaced by a matrix of directions, read by the vec rules (vec(A dX B) = (Bᵀ ⊗ A) vec(dX), vec(dXᵀ) = K vec(dX)),
//! and the structure the sweeps cannot see comes out by itself: A I is A (a linear map is one
//! copy), f′(a) ⊙ da becomes diag(f′(a)) J_a, computed as a row scaling, never as diag(·);
//! I ⊗ A is a block fill and K a permutation of rows (`emit/`); an entry a[i] is row i of
//! J_a. A node's Jacobian has one row per entry of vec(node) (a scalar's is a row) and one
//! column per entry of vec(x).
//!
//! An operation on the path without such a rule makes the pass return `None`, and the Jacobian
//! is filled by sweeps instead (`expand/jacobian.rs`).

use crate::ir::{Graph, NodeId};
use crate::rules::{self, Batch};
use crate::shape::{Shape, Ty};

/// The numerator-layout Jacobian of `output` with respect to the matrix or vector `x`, as a
/// node, or `None` if some operation on the path has no rule here. `Some(None)` if `output`
/// does not depend on `x`.
pub fn jacobian(g: &mut Graph, output: NodeId, x: NodeId) -> Option<Option<NodeId>> {
    let sx = g.shape(x)?;
    let mut batch = Batch::new(g, sx);
    if x.index() > output.index() {
        return Some(None);
    }
    let mut jac: Vec<Option<NodeId>> = vec![None; output.index() + 1];
    jac[x.index()] = Some(g.identity(Shape::new(batch.n, batch.n)));
    for id in 0..=output.index() {
        let c = NodeId(id as u32);
        if c == x || g.op(c).is_leaf() {
            continue;
        }
        let args = g.args(c).to_vec();
        if args.iter().all(|a| jac[a.index()].is_none()) {
            continue;
        }
        let d: Vec<Option<NodeId>> = args.iter().map(|a| jac[a.index()]).collect();
        let unknown = |n: &NodeId| g.ty(*n) == Ty::Unknown;
        if unknown(&c) || args.iter().any(unknown) {
            return None;
        }
        jac[id] = rules::jacobian(&mut batch, g, c, &d).ok()?;
        if jac[id].is_some_and(|j| g.is_zero(j)) {
            jac[id] = None;
        }
    }
    Some(jac[output.index()])
}
