//! The derivative of a loop (`ir/loops.rs`): its body's derivative, derived once, run once per
//! iteration.
//!
//! For carries h and captures w, one iteration is hₜ₊₁ = F(hₜ, w). Its differential
//! dhₜ₊₁ = F_h dhₜ + F_w dw, read backwards, gives the adjoint recurrence
//!
//! ```text
//! h̄ₜ = F_hᵀ h̄ₜ₊₁,        w̄ += F_wᵀ h̄ₜ₊₁   (t = n−1, …, 0),   h̄ₙ = the adjoint of the result
//! ```
//!
//! and the adjoint of the initial value is h̄₀. Both transposes are the body's own adjoint,
//! obtained by reverse accumulation over the body's nodes with the carries' adjoints as
//! seeds (`grad::accumulate`), so every rule of `rules/` applies inside loops unchanged.

use crate::grad;
use crate::ir::loops::{Adjoint, Carry, Loop, LoopKind};
use crate::ir::{Graph, NodeId, Op};

/// Reverse accumulation through loop `lp`, given the adjoints of its results (`None`: zero):
/// builds the adjoint loop and returns its contributions to the loop's arguments, as
/// `(argument position, adjoint)`.
pub fn adjoint(g: &mut Graph, lp: usize, seeds: &[Option<NodeId>]) -> Vec<(usize, NodeId)> {
    let fwd: Loop = g.loops[lp].clone();
    let b = g.loops.len();
    let active: Vec<usize> = (0..fwd.carries.len())
        .filter(|&j| g.is_active(fwd.carries[j].param))
        .collect();
    g.loops.push(Loop {
        header: fwd.header.clone(),
        parent: g.current_scope,
        within: Some(lp),
        depth: fwd.depth + 1,
        carries: Vec::new(),
        args: Vec::new(),
        outs: Vec::new(),
        stmts: fwd.stmts.iter().filter(|s| s.is_let).cloned().collect(),
        kind: LoopKind::Adjoint(Adjoint {
            forward: lp,
            contributions: Vec::new(),
        }),
    });
    // The adjoint loop carries h̄, from the adjoints of the results on.
    let mut params = Vec::new();
    let mut inits = Vec::new();
    for (k, &j) in active.iter().enumerate() {
        let ty = g.ty(fwd.carries[j].param);
        let init = match seeds[j] {
            Some(s) => s,
            None => g.zero(ty),
        };
        let op = Op::Carry {
            lp: b,
            index: k,
            active: g.is_active(init),
        };
        params.push(g.node(op, vec![], ty));
        inits.push(init);
    }
    // One iteration, backwards: h̄ₜ₊₁ seeds the carries' values at the end of the body.
    let end = fwd.outs.first().map_or(g.len(), |o| o.index());
    let inside = |g: &Graph, n: NodeId| g.within(g.scope_of(n), lp);
    let mut adjoints: Vec<Option<NodeId>> = vec![None; end];
    let mut outside: Vec<(NodeId, NodeId)> = Vec::new();
    let saved = g.current_scope.replace(b);
    for (k, &j) in active.iter().enumerate() {
        grad::deposit(
            g,
            &mut adjoints,
            &mut outside,
            &inside,
            fwd.carries[j].out,
            params[k],
        );
    }
    let body: Vec<NodeId> = (0..end)
        .rev()
        .map(|id| NodeId(id as u32))
        .filter(|&n| inside(g, n))
        .collect();
    grad::accumulate(g, &mut adjoints, &mut outside, &inside, &body);
    g.current_scope = saved;

    let carries: Vec<Carry> = active
        .iter()
        .enumerate()
        .map(|(k, &j)| {
            let c = &fwd.carries[j];
            let out = match adjoints[c.param.index()] {
                Some(a) => a,
                None => g.zero(g.ty(c.param)),
            };
            Carry {
                name: format!("{}̄", c.name),
                param: params[k],
                init: inits[k],
                out,
            }
        })
        .collect();
    let captures = fwd.captures().to_vec();
    let contributions: Vec<Option<NodeId>> = captures
        .iter()
        .map(|&c| {
            let terms: Vec<NodeId> = outside
                .iter()
                .filter(|(n, _)| *n == c)
                .map(|&(_, t)| t)
                .collect();
            terms.into_iter().reduce(|x, y| g.add(x, y))
        })
        .collect();
    let args: Vec<NodeId> = fwd.outs.iter().copied().chain(inits).collect();
    {
        let l = &mut g.loops[b];
        l.carries = carries;
        l.args = args.clone();
        l.kind = LoopKind::Adjoint(Adjoint {
            forward: lp,
            contributions: contributions.clone(),
        });
    }
    let mut out = Vec::new();
    let mut outs = Vec::new();
    for &j in &active {
        let ty = g.ty(fwd.carries[j].param);
        let n = g.node(Op::LoopAdjoint { lp: b, arg: j }, args.clone(), ty);
        out.push((j, n));
        outs.push(n);
    }
    let nc = fwd.carries.len();
    for (c, contribution) in contributions.iter().enumerate() {
        if contribution.is_some() {
            let ty = g.ty(captures[c]);
            let n = g.node(Op::LoopAdjoint { lp: b, arg: nc + c }, args.clone(), ty);
            out.push((nc + c, n));
            outs.push(n);
        }
    }
    g.loops[b].outs = outs;
    out
}
