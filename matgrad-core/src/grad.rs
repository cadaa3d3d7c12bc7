//! Reverse accumulation: seed 000's differential method, done for every node at once.
//!
//! Walking the graph once from the result back to the variables, each node passes its adjoint
//! to its arguments through its rule (`rules.rs`), and each node's adjoint is the sum of what it
//! receives. Because the graph is hash-consed, a shared sub-expression is one node, visited once,
//! and the gradient has size linear in the function's.

use crate::ir::{Graph, NodeId, Op};
use crate::rules;

/// The adjoints ∂output/∂x of the given nodes, with `seed` as the adjoint of `output`
/// (1 for a gradient). `None` where the output does not depend on the node.
pub fn reverse(g: &mut Graph, output: NodeId, seed: NodeId, wrt: &[NodeId]) -> Vec<Option<NodeId>> {
    let mut adjoint: Vec<Option<NodeId>> = vec![None; g.len()];
    adjoint[output.index()] = Some(seed);
    let nodes: Vec<NodeId> = (0..=output.index())
        .rev()
        .map(|i| NodeId(i as u32))
        .collect();
    // At the top level every argument is in the sweep.
    accumulate(g, &mut adjoint, &mut Vec::new(), &|_, _| true, &nodes);
    wrt.iter()
        .map(|x| adjoint.get(x.index()).copied().flatten())
        .collect()
}

/// Pass adjoints back through `nodes`, given in reverse topological order: each node's adjoint
/// to its arguments through its rule, summed per argument. An argument that is not `inside`
/// the sweep (a value from outside a loop's body) gets its contributions in `outside`, as
/// `(node, contribution)`.
pub fn accumulate(
    g: &mut Graph,
    adjoint: &mut [Option<NodeId>],
    outside: &mut Vec<(NodeId, NodeId)>,
    inside: &dyn Fn(&Graph, NodeId) -> bool,
    nodes: &[NodeId],
) {
    let seed_is_one = adjoint
        .iter()
        .flatten()
        .any(|&s| g.lit_value(s) == Some(1.0));
    for &node in nodes {
        let id = node.index();
        // A loop's results pass their adjoints back together, at the first of them (the others
        // come after it in the graph, so their adjoints are complete by then).
        if let Op::LoopOut { lp, .. } = *g.op(node) {
            let outs = g.loops[lp].outs.clone();
            if outs.first() != Some(&node) {
                continue;
            }
            let seeds: Vec<Option<NodeId>> = outs
                .iter()
                .map(|o| adjoint[o.index()].filter(|&a| !g.is_zero(a)))
                .collect();
            if !g.is_active(node) || seeds.iter().all(Option::is_none) {
                continue;
            }
            let args = g.loops[lp].args.clone();
            for (pos, contribution) in rules::loops::adjoint(g, lp, &seeds) {
                deposit(g, adjoint, outside, inside, args[pos], contribution);
            }
            continue;
        }
        let Some(cbar) = adjoint[id] else { continue };
        if !g.is_active(node) || g.is_zero(cbar) {
            continue;
        }
        // The adjoint of a value the body named is ∂f/∂name, which is how a long formula
        // shows it (`… where ∂f/∂k = …`).
        if seed_is_one && !g.op(cbar).is_leaf() {
            if let Some(name) = g.names.get(&node).cloned() {
                g.names.entry(cbar).or_insert(format!("∂f/∂{name}"));
            }
        }
        let args = g.args(node).to_vec();
        for (pos, contribution) in rules::adjoint(g, node, cbar) {
            deposit(g, adjoint, outside, inside, args[pos], contribution);
        }
    }
}

/// Add `contribution` to the adjoint of `arg` (or to `outside`, if `arg` is not inside the
/// sweep), unless it is zero or `arg` does not depend on a variable.
pub fn deposit(
    g: &mut Graph,
    adjoint: &mut [Option<NodeId>],
    outside: &mut Vec<(NodeId, NodeId)>,
    inside: &dyn Fn(&Graph, NodeId) -> bool,
    arg: NodeId,
    contribution: NodeId,
) {
    if !g.is_active(arg) || g.is_zero(contribution) {
        return;
    }
    if !inside(g, arg) || arg.index() >= adjoint.len() {
        outside.push((arg, contribution));
        return;
    }
    let slot = &mut adjoint[arg.index()];
    *slot = Some(match *slot {
        None => contribution,
        Some(prev) => g.add(prev, contribution),
    });
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
    // The tangent loop of each loop differentiated so far (`rules/loops.rs`).
    let mut loops = std::collections::HashMap::new();
    for id in 0..=upto.index() {
        let node = NodeId(id as u32);
        // A loop's body is differentiated with the loop, at its first result.
        if tangent[id].is_some() || g.get(node).op.is_leaf() || g.scope_of(node).is_some() {
            continue;
        }
        if let Op::LoopOut { lp, .. } | Op::LoopAdjoint { lp, .. } = *g.op(node) {
            let outs = g.loops[lp].outs.clone();
            if outs.first() == Some(&node) {
                let known = tangent
                    .iter()
                    .enumerate()
                    .filter_map(|(i, t)| t.map(|t| (NodeId(i as u32), t)))
                    .collect();
                let d = rules::loops::tangent(g, lp, &known, &mut loops);
                for (o, d) in outs.into_iter().zip(d) {
                    if o.index() <= upto.index() {
                        tangent[o.index()] = d.filter(|&d| !g.is_zero(d));
                    }
                }
            }
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
