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
    let active: Vec<usize> = (0..fwd.carries.len())
        .filter(|&j| g.is_active(fwd.carries[j].param))
        .collect();
    let b = g.push_loop(
        fwd.header.clone(),
        Some(lp),
        LoopKind::Adjoint(Adjoint {
            forward: lp,
            contributions: Vec::new(),
        }),
    );
    g.loops[b].stmts = fwd.stmts.iter().filter(|s| s.is_let).cloned().collect();
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

/// Forward accumulation through loop `x` (a primal or an adjoint loop): the differentials of
/// its results (in the order of `Loop::outs`), given the differentials `known` of the values
/// outside its body. Builds the tangent loop, which runs beside `x` in the same iterations:
///
/// ```text
/// dhₜ₊₁ = F_h dhₜ + F_w dw,   dh₀ = the differential of the initial value
/// ```
///
/// `tangents` maps each loop already differentiated in this sweep to its tangent loop (the
/// tangent of an adjoint loop reads its forward loop's).
pub fn tangent(
    g: &mut Graph,
    x: usize,
    known: &std::collections::HashMap<NodeId, NodeId>,
    tangents: &mut std::collections::HashMap<usize, usize>,
) -> Vec<Option<NodeId>> {
    use crate::ir::loops::Tangent;
    let l: Loop = g.loops[x].clone();
    let forward = match &l.kind {
        LoopKind::Adjoint(a) => tangents.get(&a.forward).copied(),
        _ => None,
    };
    // Beside x: in the tangent loop of x's own loop, where x is nested.
    let t = g.push_loop(
        l.header.clone(),
        Some(x),
        LoopKind::Tangent(Tangent {
            primal: x,
            of: Vec::new(),
            contributions: Vec::new(),
            forward,
        }),
    );
    let mut map = known.clone();
    if let Some(ft) = forward {
        if let LoopKind::Tangent(ftl) = &g.loops[ft].kind {
            map.extend(ftl.of.iter().copied());
        }
    }
    // The differentials of the carries at the start of an iteration (of all of them: an
    // adjoint loop's carries vary with the variables even where their seeds do not).
    let active: Vec<usize> = (0..l.carries.len()).collect();
    let mut carries = Vec::new();
    for (k, &j) in active.iter().enumerate() {
        let c = &l.carries[j];
        let ty = g.ty(c.param);
        let init = match map.get(&c.init) {
            Some(&d) => d,
            None => g.zero(ty),
        };
        let op = Op::Carry {
            lp: t,
            index: k,
            active: true,
        };
        let param = g.node(op, vec![], ty);
        map.insert(c.param, param);
        carries.push(Carry {
            name: format!("d{}", c.name),
            param,
            init,
            out: param,
        });
    }
    let saved = g.current_scope.replace(t);
    let end = g.len();
    for id in 0..end {
        let n = NodeId(id as u32);
        if g.scope_of(n) != Some(x) || map.contains_key(&n) || g.op(n).is_leaf() {
            continue;
        }
        if let Op::LoopOut { lp: inner, .. } | Op::LoopAdjoint { lp: inner, .. } = *g.op(n) {
            let outs = g.loops[inner].outs.clone();
            if outs.first() == Some(&n) {
                let d = tangent(g, inner, &map, tangents);
                for (o, d) in outs.into_iter().zip(d) {
                    if let Some(d) = d {
                        map.insert(o, d);
                    }
                }
            }
            continue;
        }
        let d: Vec<Option<NodeId>> = g.args(n).iter().map(|a| map.get(a).copied()).collect();
        if d.iter().all(Option::is_none) {
            continue;
        }
        if let Some(dn) = crate::rules::tangent(g, n, &d) {
            map.insert(n, dn);
        }
    }
    g.current_scope = saved;
    for (k, &j) in active.iter().enumerate() {
        let out = l.carries[j].out;
        carries[k].out = match map.get(&out) {
            Some(&d) => d,
            None => g.zero(g.ty(out)),
        };
    }
    let contributions: Vec<Option<NodeId>> = l
        .contributions()
        .iter()
        .map(|c| c.and_then(|c| map.get(&c).copied()))
        .collect();
    let of: Vec<(NodeId, NodeId)> = (0..end)
        .map(|id| NodeId(id as u32))
        .filter(|n| g.scope_of(*n) == Some(x))
        .filter_map(|n| map.get(&n).map(|&d| (n, d)))
        .collect();
    let mut args: Vec<NodeId> = carries.iter().map(|c| c.init).collect();
    args.extend(l.outs.iter().copied());
    {
        let tl = &mut g.loops[t];
        tl.carries = carries.clone();
        tl.args = args.clone();
        tl.kind = LoopKind::Tangent(Tangent {
            primal: x,
            of,
            contributions: contributions.clone(),
            forward,
        });
    }
    // The results: a carry's differential after the loop; for an adjoint loop, also the
    // differential of each accumulated adjoint.
    let mut outs = Vec::new();
    let mut by_carry = vec![None; l.carries.len()];
    for (k, &j) in active.iter().enumerate() {
        let n = g.node(
            Op::LoopOut { lp: t, out: k },
            args.clone(),
            g.ty(carries[k].param),
        );
        outs.push(n);
        by_carry[j] = Some(n);
    }
    let mut by_contribution = vec![None; contributions.len()];
    for (c, d) in contributions.iter().enumerate() {
        if let Some(d) = d {
            let out = carries.len() + c;
            let n = g.node(Op::LoopOut { lp: t, out }, args.clone(), g.ty(*d));
            outs.push(n);
            by_contribution[c] = Some(n);
        }
    }
    g.loops[t].outs = outs;
    tangents.insert(x, t);
    // In the order of x's own results.
    l.outs
        .iter()
        .map(|&o| match *g.op(o) {
            Op::LoopOut { out, .. } => by_carry.get(out).copied().flatten(),
            Op::LoopAdjoint { arg, .. } => {
                let LoopKind::Adjoint(a) = &l.kind else {
                    return None;
                };
                let fwd = &g.loops[a.forward];
                let nc = fwd.carries.len();
                if arg < nc {
                    // The adjoint loop's carries are the forward loop's active ones, in order.
                    let k = (0..nc)
                        .filter(|&j| g.is_active(fwd.carries[j].param))
                        .position(|j| j == arg)?;
                    by_carry.get(k).copied().flatten()
                } else {
                    by_contribution.get(arg - nc).copied().flatten()
                }
            }
            _ => None,
        })
        .collect()
}
