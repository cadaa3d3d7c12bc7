//! Loops and the derivatives that need forward mode through them.

use crate::attr::{Macro, Options};
use crate::ctxt::Ctxt;
use crate::front::Body;
use crate::ir::Op;

/// Forward mode through loops (Hessians, Hessian-vector products, Jacobians, `minimize`) is not
/// derived yet: say so at the loop, rather than derive a wrong derivative.
pub fn forward_mode(cx: &mut Ctxt, body: &Body, options: &Options) {
    let g = &body.graph;
    let needs_forward = options.kind == Macro::Jacobian
        || options.hessian.is_some()
        || options.minimize.is_some()
        || options.argmin.is_some()
        || options.least_squares.is_some();
    if !needs_forward {
        return;
    }
    let first_loop = (0..g.len()).find_map(|id| {
        let n = crate::ir::NodeId(id as u32);
        matches!(g.op(n), Op::LoopOut { .. })
            .then(|| g.spans[id])
            .flatten()
    });
    if let Some(span) = first_loop {
        cx.error_at(
            span,
            "matgrad derives gradients through loops (reverse mode); Jacobians, Hessians and the solver adapters through loops need forward mode, which is not derived yet: use `#[gradient(wrt = ..)]` without `hessian`",
        );
    }
}
