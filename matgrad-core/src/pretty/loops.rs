//! How formulas show loops: the carried value at step t (hₜ), the value after the loop (hₙ),
//! and the adjoint recurrence that the derivative of a loop is.

use crate::ir::loops::LoopKind;
use crate::ir::{Graph, NodeId, Op};

/// The name of a loop's value in formulas.
pub fn name(g: &Graph, n: NodeId) -> String {
    match *g.op(n) {
        Op::Carry { lp, index, .. } => {
            let l = &g.loops[lp];
            let t = &l.header.index;
            match &l.kind {
                LoopKind::Primal => format!("{}[{t}]", l.carries[index].name),
                // The adjoint carried backwards: h̄ after step t.
                LoopKind::Adjoint(_) => format!("{}[{t}+1]", l.carries[index].name),
                LoopKind::Tangent(_) => format!("{}[{t}]", l.carries[index].name),
            }
        }
        Op::LoopOut { lp, out } => match g.loops[lp].carries.get(out) {
            Some(c) => format!("{}[n]", c.name),
            None => format!("Σ_{} d∂f", g.loops[lp].header.index),
        },
        Op::LoopAdjoint { lp, arg } => {
            let l = &g.loops[lp];
            let LoopKind::Adjoint(a) = &l.kind else {
                return "?".into();
            };
            let fwd = &g.loops[a.forward];
            let t = &l.header.index;
            match fwd.carries.get(arg) {
                Some(c) => format!("{}̄[0]", c.name),
                None => format!("Σ_{t} ∂f/∂{}[{t}]", capture_text(g, fwd.args[arg])),
            }
        }
        _ => "?".into(),
    }
}

fn capture_text(g: &Graph, n: NodeId) -> String {
    match g.op(n) {
        Op::Param(i) => g.params[*i].clone(),
        _ => g.names.get(&n).cloned().unwrap_or_else(|| "w".into()),
    }
}

/// The contribution one iteration of adjoint loop `lp` makes to the adjoint of its forward
/// loop's argument `arg`, where that argument is a capture.
pub fn contribution(g: &Graph, lp: usize, arg: usize) -> Option<NodeId> {
    let LoopKind::Adjoint(a) = &g.loops[lp].kind else {
        return None;
    };
    let nc = g.loops[a.forward].carries.len();
    arg.checked_sub(nc)
        .and_then(|c| a.contributions.get(c).copied().flatten())
}

/// `h[t+1]` for the value of a primal loop's carry at the end of an iteration.
pub fn carry_out_name(g: &Graph, n: NodeId) -> Option<String> {
    let lp = g.scope_of(n)?;
    let l = &g.loops[lp];
    if !matches!(l.kind, LoopKind::Primal) || g.op(n).is_leaf() {
        return None;
    }
    let c = l.carries.iter().find(|c| c.out == n)?;
    Some(format!("{}[{}+1]", c.name, l.header.index))
}

/// The recurrences of the adjoint loops that `roots` read, one line each:
/// `h̄[t] = …  for t = n−1, …, 0, from h̄[n] = …`.
pub fn recurrences(g: &Graph, roots: &[NodeId], vars: &[String]) -> Vec<String> {
    let mut seen = vec![false; g.len()];
    let mut stack: Vec<NodeId> = roots.to_vec();
    let mut loops = std::collections::BTreeSet::new();
    while let Some(n) = stack.pop() {
        if std::mem::replace(&mut seen[n.index()], true) {
            continue;
        }
        if let Op::LoopAdjoint { lp, .. } = *g.op(n) {
            loops.insert(lp);
            let l = &g.loops[lp];
            stack.extend(l.carries.iter().map(|c| c.out));
            stack.extend(l.contributions().iter().flatten());
        }
        stack.extend(g.args(n).iter().copied());
    }
    let mut lines = Vec::new();
    for lp in loops {
        let l = &g.loops[lp];
        let t = &l.header.index;
        for c in &l.carries {
            lines.push(format!(
                "{}[{t}] = {}   for {t} = n−1, …, 0, from {}[n] = {}",
                c.name,
                super::inline_formula(g, c.out, vars),
                c.name,
                super::inline_formula(g, c.init, vars),
            ));
        }
    }
    lines
}
