//! Beyond the gradient: more passes over the same graph. Second derivatives are the forward
//! differential of the gradient's nodes (forward-over-reverse); the Jacobian of a vector or
//! matrix function is its forward differential, or its reverse accumulation from a cotangent.

use crate::derivation::{Jacobian, Linear, Second};
use crate::front::{Body, Function};
use crate::grad;
use crate::ir::{Graph, NodeId, Op};
use crate::pretty;
use crate::shape::Ty;

/// A new parameter of the given type that generated code binds itself (a direction, a
/// cotangent); `name` is how formulas show it.
fn input(g: &mut Graph, name: &str, ty: Ty) -> NodeId {
    let k = g.params.len();
    g.params.push(name.to_string());
    g.variables.push(false);
    g.node(Op::Param(k), vec![], ty)
}

/// Which nodes depend on any of `leaves`.
pub fn depends_on(g: &Graph, leaves: &[NodeId]) -> Vec<bool> {
    let mut out = vec![false; g.len()];
    for id in 0..g.len() {
        let n = NodeId(id as u32);
        out[id] = leaves.contains(&n) || g.args(n).iter().any(|a| out[a.index()]);
    }
    out
}

/// A name for an extra parameter that no parameter of the function has.
pub fn fresh_name(f: &Function, candidates: &[&str]) -> String {
    let taken = |n: &str| {
        f.params
            .iter()
            .any(|p| p.name.as_ref().is_some_and(|i| i == n))
    };
    candidates
        .iter()
        .find(|c| !taken(c))
        .map(|c| c.to_string())
        .unwrap_or_else(|| "__mg_direction".into())
}

/// `hessian`: directions V, one per variable, and H V.
pub fn second(
    f: &Function,
    body: &mut Body,
    gradients: &[Option<NodeId>],
    wrt: &[NodeId],
) -> Second {
    let names = f.variable_names();
    let dir_name = fresh_name(f, &["v", "dir", "direction"]);
    let g = &mut body.graph;
    let dirs: Vec<NodeId> = wrt
        .iter()
        .zip(&names)
        .map(|(&x, name)| {
            let shown = if wrt.len() == 1 {
                dir_name.clone()
            } else {
                format!("{dir_name}_{name}")
            };
            let ty = g.ty(x);
            input(g, &shown, ty)
        })
        .collect();
    let last = NodeId(g.len() as u32 - 1);
    let seeds: Vec<(NodeId, NodeId)> = wrt.iter().copied().zip(dirs.iter().copied()).collect();
    let tangent = grad::forward(g, last, &seeds);
    let outputs: Vec<Option<NodeId>> = gradients
        .iter()
        .map(|gr| gr.and_then(|n| tangent.get(n.index()).copied().flatten()))
        .collect();
    let variant = depends_on(g, &dirs);
    let mut shown = names.clone();
    shown.extend(dirs.iter().map(|&n| match g.op(n) {
        Op::Param(k) => g.params[*k].clone(),
        _ => String::new(),
    }));
    let hvp_formulas = outputs
        .iter()
        .map(|o| {
            o.map(|n| pretty::formula(g, n, &shown))
                .unwrap_or_else(|| "0".into())
        })
        .collect();
    let hessian_formula = match (outputs.as_slice(), dirs.as_slice()) {
        ([Some(h)], [dir]) => pretty::jacobian_formula(g, *h, *dir, &shown),
        ([None], _) => Some("0".into()),
        _ => None,
    };
    let whole = match (gradients, wrt) {
        ([Some(gradient)], [x]) => crate::batched::jacobian(g, *gradient, *x).flatten(),
        _ => None,
    };
    Second {
        hvp: Linear {
            inputs: dirs,
            outputs,
            variant,
        },
        dir_name,
        hvp_formulas,
        hessian_formula,
        whole,
    }
}

/// `#[jacobian]`: the forward differential per variable and the reverse accumulation from a
/// cotangent of the result.
pub fn linearize(f: &Function, body: &mut Body, wrt: &[NodeId]) -> Jacobian {
    let names = f.variable_names();
    let output = body.output;
    let g = &mut body.graph;
    let out_ty = g.ty(output);
    let mut forward = Vec::new();
    let mut formulas = Vec::new();
    let mut differentials = Vec::new();
    let mut shown = names.clone();
    for (&x, name) in wrt.iter().zip(&names) {
        let dir_text = format!("d{name}");
        let ty = g.ty(x);
        let dir = input(g, &dir_text, ty);
        shown.push(dir_text);
        let tangent = grad::forward(g, output, &[(x, dir)]);
        let df = tangent.get(output.index()).copied().flatten();
        let variant = depends_on(g, &[dir]);
        formulas.push(match df {
            Some(n) => pretty::jacobian_formula(g, n, dir, &shown).unwrap_or_default(),
            None => "0".into(),
        });
        differentials.push(
            df.map(|n| pretty::formula(g, n, &shown))
                .unwrap_or_else(|| "0".into()),
        );
        forward.push(Linear {
            inputs: vec![dir],
            outputs: vec![df],
            variant,
        });
    }
    let cot = input(g, "f̄", out_ty);
    let outputs = if g.is_active(output) {
        grad::reverse(g, output, cot, wrt)
    } else {
        vec![None; wrt.len()]
    };
    let variant = depends_on(g, &[cot]);
    let reverse = Linear {
        inputs: vec![cot],
        outputs,
        variant,
    };
    let batched = wrt
        .iter()
        .map(|&x| crate::batched::jacobian(g, output, x))
        .collect();
    Jacobian {
        forward,
        reverse,
        formulas,
        differentials,
        batched,
    }
}
