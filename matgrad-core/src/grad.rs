//! Reverse accumulation: seed 000's differential method, done for every node at once.
//!
//! Walking the graph once from the result back to the variables, each node passes its adjoint
//! to its arguments through its rule (`rules.rs`), and each node's adjoint is the sum of what it
//! receives. Because the graph is hash-consed, a shared sub-expression is one node, visited once,
//! and the gradient has size linear in the function's.

use crate::ir::{Graph, NodeId};
use crate::rules;

/// The adjoints ∂output/∂x of the given nodes, with `seed` as the adjoint of `output`
/// (1 for a gradient). `None` where the output does not depend on the node.
pub fn reverse(g: &mut Graph, output: NodeId, seed: NodeId, wrt: &[NodeId]) -> Vec<Option<NodeId>> {
    let mut adjoint: Vec<Option<NodeId>> = vec![None; g.len()];
    adjoint[output.index()] = Some(seed);
    for id in (0..=output.index()).rev() {
        let node = NodeId(id as u32);
        let Some(cbar) = adjoint[id] else { continue };
        if !g.is_active(node) || g.is_zero(cbar) {
            continue;
        }
        // The adjoint of a value the body named is ∂f/∂name, which is how a long formula
        // shows it (`… where ∂f/∂k = …`).
        if g.lit_value(seed) == Some(1.0) && !g.op(cbar).is_leaf() {
            if let Some(name) = g.names.get(&node).cloned() {
                g.names.entry(cbar).or_insert(format!("∂f/∂{name}"));
            }
        }
        let args = g.args(node).to_vec();
        for (pos, contribution) in rules::adjoint(g, node, cbar) {
            let arg = args[pos];
            if !g.is_active(arg) || g.is_zero(contribution) {
                continue;
            }
            let slot = &mut adjoint[arg.index()];
            *slot = Some(match *slot {
                None => contribution,
                Some(prev) => g.add(prev, contribution),
            });
        }
    }
    wrt.iter()
        .map(|x| adjoint.get(x.index()).copied().flatten())
        .collect()
}

/// Forward accumulation: the differential of every node up to `upto`, given the differentials
/// of some nodes (the variables' directions). `None` where the differential is zero.
pub fn forward(g: &mut Graph, upto: NodeId, seeds: &[(NodeId, NodeId)]) -> Vec<Option<NodeId>> {
    let mut tangent: Vec<Option<NodeId>> = vec![None; upto.index() + 1];
    for &(node, dir) in seeds {
        if node.index() <= upto.index() {
            tangent[node.index()] = Some(dir);
        }
    }
    for id in 0..=upto.index() {
        let node = NodeId(id as u32);
        if tangent[id].is_some() || g.get(node).op.is_leaf() {
            continue;
        }
        let d: Vec<Option<NodeId>> = g.args(node).iter().map(|a| tangent[a.index()]).collect();
        if d.iter().all(Option::is_none) {
            continue;
        }
        tangent[id] = rules::tangent(g, node, &d);
    }
    tangent
}
