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
