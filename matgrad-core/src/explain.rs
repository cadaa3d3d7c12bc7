//! The derivation, step by step, the way the matrix differential method teaches it (seed 000):
//! take the differential df, rearrange each of its terms into the form tr(Mᵢᵀ dX) by the
//! trace identities, collect them into tr(Gᵀ dX), and read off ∂f/∂X = G. For `tr(WᵀAW)`:
//!
//! ```text
//! df = tr(dwᵀ a w) + tr(wᵀ a dw)          by d(XY) = dX Y + X dY, d(Xᵀ) = (dX)ᵀ
//!    = tr(wᵀ aᵀ dw) + tr(wᵀ a dw)         by tr(Aᵀ) = tr(A), tr(AB) = tr(BA)
//!    = tr(wᵀ(a + aᵀ)ᵀ dw)                 collecting the terms
//! ⇒ ∂f/∂w = (a + aᵀ) w
//! ```
//!
//! <div class="matgrad-tex" data-tex="\begin{aligned} df &amp;= \operatorname{tr}(dW^\top A W) + \operatorname{tr}(W^\top A\, dW) \\ &amp;= \operatorname{tr}(W^\top A^\top dW) + \operatorname{tr}(W^\top A\, dW) \\ &amp;= \operatorname{tr}(W^\top (A + A^\top)^\top dW) \\ \Rightarrow \frac{\partial f}{\partial W} &amp;= (A + A^\top) W \end{aligned}" hidden></div>
//!
//! Every step is a graph node in a direction leaf dX, printed by `pretty`: the differential is
//! the forward differential (`grad::forward`), and the coefficient Mᵢ of each of its terms is
//! that term's reverse accumulation with respect to dX (the term is linear in dX). So each line
//! is a claim a test can evaluate at random X and dX (`Step::claim`): every one equals the
//! directional derivative ⟨G, dX⟩.

use crate::grad;
use crate::ir::{Func, Graph, NodeId, Op};
use crate::pretty;
use crate::shape::{Shape, Ty};

/// One line of a derivation: `= text   by why`.
pub struct Step {
    pub text: String,
    /// The identities that turn the previous line into this one.
    pub why: String,
    /// What the line says, as nodes: the sum of `c · node` (each node a scalar linear in the
    /// direction), which equals df.
    pub claim: Vec<(f64, NodeId)>,
}

/// The derivation of one gradient.
pub struct Explained {
    /// What the first line differentiates: `df`, or `d(∂f/∂x)` for a Hessian.
    pub lead: String,
    /// The variable, as the function names it.
    pub variable: String,
    /// The direction leaf dX (a parameter of the graph), for evaluating the claims.
    pub direction: NodeId,
    pub steps: Vec<Step>,
    /// The read-off: `∂f/∂x = …`.
    pub result: String,
    /// The identities of the read-off, where it takes some (the vec rules of a Jacobian).
    pub read_off: String,
}

/// The derivations of the gradients of a scalar `output` with respect to each of `wrt`, whose
/// gradients are `gradients` and formulas `formulas`. Adds nodes (and a direction parameter
/// per variable) to the graph; run it after everything that generated code reads.
pub fn gradients(
    g: &mut Graph,
    output: NodeId,
    wrt: &[NodeId],
    names: &[String],
    formulas: &[String],
) -> Vec<Explained> {
    // The reverse passes below name adjoints of named nodes (∂f/∂z); these are not adjoints of f.
    let names_before = g.names.clone();
    let out = wrt
        .iter()
        .zip(names)
        .zip(formulas)
        .filter_map(|((&x, name), formula)| gradient(g, output, x, name, names, formula))
        .collect();
    g.names = names_before;
    out
}

fn gradient(
    g: &mut Graph,
    output: NodeId,
    x: NodeId,
    name: &str,
    names: &[String],
    formula: &str,
) -> Option<Explained> {
    if !g.is_active(output) {
        return None;
    }
    let shown = format!("d{name}");
    let ty = g.ty(x);
    let dir = direction(g, &shown, ty);
    let mut vars = names.to_vec();
    vars.push(shown.clone());
    let loops_before = g.loops.len();
    let tangent = grad::forward(g, output, &[(x, dir)]);
    let df = tangent.get(output.index()).copied().flatten()?;
    if !g.loops.is_empty() {
        let new = loops_before..g.loops.len();
        return through_loops(g, output, (x, dir, df), new, name, &vars, formula);
    }
    // The terms of df, with a trace (or sum) of a sum split into the sum of traces.
    let terms = terms(g, df, 1.0);
    let mut steps = vec![Step {
        text: match terms.as_slice() {
            [(c, _)] if *c == 1.0 => pretty::formula(g, df, &vars),
            _ => signed_sum(g, &terms, &vars),
        },
        why: rules_of(g, output, x).join(", "),
        claim: terms.clone(),
    }];

    // Each term of df as tr(Mᵢᵀ dX).
    let mut rearranged = Vec::new();
    let mut coefficients = Vec::new();
    let mut why: Vec<&str> = Vec::new();
    for &(c, t) in &terms {
        let m = coefficient(g, t, dir)?;
        for w in identities_of(g, t, dir) {
            if !why.contains(&w) {
                why.push(w);
            }
        }
        rearranged.push((c, against(g, m, dir)?));
        coefficients.push((c, m));
    }
    let text = match rearranged.as_slice() {
        [(c, t)] if *c == 1.0 => pretty::formula(g, *t, &vars),
        _ => signed_sum(g, &rearranged, &vars),
    };
    if text != steps[0].text {
        why.sort_by_key(|w| IDENTITY_ORDER.iter().position(|o| o == w));
        steps.push(Step {
            text,
            why: if why.is_empty() {
                "writing df as tr(Mᵀ d·)".into()
            } else {
                why.join(", ")
            },
            claim: rearranged,
        });
    }

    // Collected: tr(Gᵀ dX), G the gradient.
    if coefficients.len() > 1 {
        let grad = coefficient(g, df, dir)?;
        let collected = against(g, grad, dir)?;
        steps.push(Step {
            text: pretty::formula(g, collected, &vars),
            why: "collecting the terms".into(),
            claim: vec![(1.0, collected)],
        });
    }
    Some(gradient_explained(name, dir, steps, formula))
}

/// A gradient's derivation: `df = …` by `steps`, read off as ∂f/∂x = `formula`.
fn gradient_explained(name: &str, dir: NodeId, steps: Vec<Step>, formula: &str) -> Explained {
    Explained {
        lead: "df".into(),
        variable: name.to_string(),
        direction: dir,
        steps,
        result: format!("∂f/∂{name} = {formula}"),
        read_off: String::new(),
    }
}

/// The derivation through loops: df by the tangent recurrence (forward), then ⟨G, dX⟩ by the
/// adjoint recurrence (its transpose, run backwards), G the gradient.
fn through_loops(
    g: &mut Graph,
    output: NodeId,
    (x, dir, df): (NodeId, NodeId, NodeId),
    new: std::ops::Range<usize>,
    name: &str,
    vars: &[String],
    formula: &str,
) -> Option<Explained> {
    // The tangent loops of this differential.
    let tangents: Vec<String> = new
        .filter(|&t| matches!(&g.loops[t].kind, crate::ir::loops::LoopKind::Tangent(_)))
        .flat_map(|t| {
            let l = &g.loops[t];
            let i = l.header.index.clone();
            l.carries
                .iter()
                .map(|c| {
                    format!(
                        "{}[{i}+1] = {}",
                        c.name,
                        pretty::inline_formula(g, c.out, vars)
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let seed = g.lit(1.0);
    let grad = grad::reverse(g, output, seed, &[x])[0]?;
    let paired = g.dot(grad, dir);
    let steps = vec![
        Step {
            text: pretty::formula(g, df, vars),
            why: format!(
                "the loop's differential, one iteration's derived once: {}",
                tangents.join(", ")
            ),
            claim: vec![(1.0, df)],
        },
        Step {
            text: pretty::formula(g, paired, vars),
            why: "the adjoint recurrence, the transpose of the tangent one, run backwards (reverse accumulation through one iteration's body)".into(),
            claim: vec![(1.0, paired)],
        },
    ];
    Some(gradient_explained(name, dir, steps, formula))
}

/// M with t = tr(Mᵀ dX), for t linear in `dir`: the reverse accumulation of t with respect to
/// `dir`, through the nodes that depend on `dir` only (the others are constants here; letting
/// the pass into them would differentiate the whole function again for each term).
fn coefficient(g: &mut Graph, t: NodeId, dir: NodeId) -> Option<NodeId> {
    let on_path = depends_on(g, t, dir);
    let saved: Vec<bool> = g.active[..on_path.len()].to_vec();
    g.active[..on_path.len()].copy_from_slice(&on_path);
    let seed = g.lit(1.0);
    let m = grad::reverse(g, t, seed, &[dir])[0];
    g.active[..saved.len()].copy_from_slice(&saved);
    m
}

/// The derivations of the Jacobians of `output` with respect to each of `wrt`: the
/// differential dF in the direction dX (the forward sweep's own node), then the Jacobian read
/// off by seed 004's vec rules, which are named.
pub fn jacobians(
    g: &Graph,
    output: NodeId,
    wrt: &[NodeId],
    names: &[String],
    lin: &crate::Jacobian,
) -> Vec<Explained> {
    let mut out = Vec::new();
    for (i, (&x, name)) in wrt.iter().zip(names).enumerate() {
        let Some(f) = lin.forward.get(i) else {
            continue;
        };
        let (Some(&dir), Some(df)) = (f.inputs.first(), f.outputs.first().copied().flatten())
        else {
            continue;
        };
        let jacobian = lin.formulas.get(i).filter(|j| !j.is_empty());
        out.push(Explained {
            lead: "df".into(),
            variable: name.clone(),
            direction: dir,
            steps: vec![Step {
                text: lin.differentials.get(i).cloned().unwrap_or_default(),
                why: rules_of(g, output, x).join(", "),
                claim: vec![(1.0, df)],
            }],
            result: match jacobian {
                Some(j) => format!("∂vec(f)/∂vec({name})ᵀ = {j}"),
                None => format!(
                    "∂vec(f)/∂vec({name})ᵀ: its columns are df at the unit directions d{name} = eₖ"
                ),
            },
            read_off: match jacobian {
                Some(_) => vec_rules(g, df, dir).join(", "),
                None => String::new(),
            },
        });
    }
    out
}

/// The derivation of a Hessian of one variable: the differential of the gradient in the
/// direction V (the Hessian-vector product's own node), then the Hessian read off by the vec
/// rules. None for several variables (their Hessian is a block matrix the formulas do not
/// print).
pub fn hessian(
    g: &Graph,
    x: NodeId,
    gradient: NodeId,
    second: &crate::Second,
    name: &str,
) -> Option<Explained> {
    let (&[dir], &[Some(hv)]) = (second.hvp.inputs.as_slice(), second.hvp.outputs.as_slice())
    else {
        return None;
    };
    let Op::Param(k) = g.op(dir) else {
        return None;
    };
    let v = g.params[*k].clone();
    let hessian = second.hessian_formula.as_ref();
    Some(Explained {
        lead: format!("d(∂f/∂{name})"),
        variable: name.to_string(),
        direction: dir,
        steps: vec![Step {
            text: format!(
                "{}   (in the direction d{name} = {v})",
                second.hvp_formulas.first()?
            ),
            // The rules of the gradient's own operations, not those of the function's.
            why: rules_from(g, gradient, x, g.primal_len).join(", "),
            claim: vec![(1.0, hv)],
        }],
        result: match hessian {
            Some(h) => format!("∇²f = {h}"),
            None => format!("∇²f: its columns are d(∂f/∂{name}) at the unit directions"),
        },
        read_off: match hessian {
            Some(_) => vec_rules(g, hv, dir).join(", "),
            None => String::new(),
        },
    })
}

/// Seed 004's vec rules that read a Jacobian off the differential `df`, linear in `dir`.
fn vec_rules(g: &Graph, df: NodeId, dir: NodeId) -> Vec<&'static str> {
    let on_path = depends_on(g, df, dir);
    let mut out = Vec::new();
    for (id, _) in on_path.iter().enumerate().filter(|(_, on)| **on) {
        let n = NodeId(id as u32);
        let vector = |m: NodeId| {
            g.shape(m)
                .is_some_and(|s| s.is_col_vector() || s.is_row_vector())
        };
        let rule = match g.op(n) {
            Op::MatMul | Op::Scale => Some("vec(A dX B) = (Bᵀ ⊗ A) vec(dX)"),
            Op::Transpose if !vector(n) => Some("vec(dXᵀ) = K vec(dX)"),
            Op::Mul | Op::Div | Op::RowScale if g.ty(n).is_matrix() => {
                Some("vec(a ⊙ dX) = diag(vec(a)) vec(dX)")
            }
            Op::Trace => Some("tr(A dX) = vec(Aᵀ)ᵀ vec(dX)"),
            Op::Sum | Op::Dot => Some("⟨A, dX⟩ = vec(A)ᵀ vec(dX)"),
            Op::Entry(..) => Some("dx[k] = eₖᵀ dx"),
            _ => None,
        };
        if let Some(r) = rule {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

/// A direction leaf dX of the given type: a parameter that generated code never binds.
fn direction(g: &mut Graph, name: &str, ty: Ty) -> NodeId {
    let k = g.params.len();
    g.params.push(name.to_string());
    // Active, so that reverse accumulation reaches it from the terms of df.
    g.variables.push(true);
    g.node(Op::Param(k), vec![], ty)
}

/// The signed terms of a sum: df = Σ cᵢ tᵢ; tr(A + B) = tr(A) + tr(B), and likewise for the
/// sum of the entries.
fn terms(g: &mut Graph, n: NodeId, c: f64) -> Vec<(f64, NodeId)> {
    let args = g.args(n).to_vec();
    match g.op(n).clone() {
        op @ (Op::Trace | Op::Sum) if matches!(g.op(args[0]), Op::Add | Op::Sub | Op::Neg) => {
            let inner = terms(g, args[0], c);
            inner
                .into_iter()
                .map(|(c, t)| (c, g.node(op.clone(), vec![t], Ty::Scalar)))
                .collect()
        }
        Op::Add => {
            let mut out = terms(g, args[0], c);
            out.extend(terms(g, args[1], c));
            out
        }
        Op::Sub => {
            let mut out = terms(g, args[0], c);
            out.extend(terms(g, args[1], -c));
            out
        }
        Op::Neg => terms(g, args[0], -c),
        _ => vec![(c, n)],
    }
}

/// tr(Mᵀ dX) as a node, built as written (no simplification): mᵀ dx for a column, m dx for a
/// scalar.
fn against(g: &mut Graph, m: NodeId, dir: NodeId) -> Option<NodeId> {
    match (g.ty(m), g.ty(dir)) {
        (Ty::Scalar, Ty::Scalar) => Some(g.node(Op::Mul, vec![m, dir], Ty::Scalar)),
        (Ty::Matrix(ms), Ty::Matrix(ds)) if ds.is_col_vector() => {
            let _ = ms;
            Some(g.node(Op::Dot, vec![m, dir], Ty::Scalar))
        }
        (Ty::Matrix(ms), Ty::Matrix(ds)) => {
            let mt = g.node(Op::Transpose, vec![m], Ty::Matrix(ms.transposed()));
            let prod = g.node(
                Op::MatMul,
                vec![mt, dir],
                Ty::Matrix(Shape::new(ms.cols, ds.cols)),
            );
            Some(g.node(Op::Trace, vec![prod], Ty::Scalar))
        }
        _ => None,
    }
}

/// c₁ t₁ + c₂ t₂ − …, each term printed on its own.
fn signed_sum(g: &Graph, terms: &[(f64, NodeId)], vars: &[String]) -> String {
    let mut out = String::new();
    for (i, &(c, t)) in terms.iter().enumerate() {
        let text = pretty::inline_formula(g, t, vars);
        let (neg, text) = match text.strip_prefix('−') {
            Some(rest) if !rest.contains([' ', '+']) || rest.starts_with("tr(") => (c > 0.0, rest),
            _ => (c < 0.0, text.as_str()),
        };
        let coef = c.abs();
        let body = if coef == 1.0 {
            text.to_string()
        } else {
            format!("{} {text}", pretty::number(coef))
        };
        out.push_str(match (i, neg) {
            (0, true) => "−",
            (0, false) => "",
            (_, true) => " − ",
            (_, false) => " + ",
        });
        out.push_str(&body);
    }
    out
}

/// The trace identities, in the order a derivation names them.
const TRANSPOSE: &str = "tr(Aᵀ) = tr(A)";
const CYCLIC: &str = "tr(AB) = tr(BA)";
const HADAMARD: &str = "tr(Aᵀ(B ⊙ C)) = tr((A ⊙ B)ᵀ C)";
const INNER: &str = "⟨A, B⟩ = tr(Aᵀ B)";
const SUM: &str = "sum(A) = tr(Jᵀ A)";
const SCALAR: &str = "a scalar is its own trace";
const IDENTITY_ORDER: [&str; 6] = [SCALAR, INNER, SUM, TRANSPOSE, CYCLIC, HADAMARD];

/// The identities that bring a term of df, linear in `dir`, into the form tr(Mᵀ dX): read off
/// where dX stands in it.
fn identities_of(g: &Graph, t: NodeId, dir: NodeId) -> Vec<&'static str> {
    let on_path = depends_on(g, t, dir);
    let mut out = Vec::new();
    let mut add = |w: &'static str| {
        if !out.contains(&w) {
            out.push(w);
        }
    };
    let matrix_dir = g.ty(dir).is_matrix() && !g.ty(dir).shape().is_some_and(|s| s.is_col_vector());
    if matrix_dir && !matches!(g.op(t), Op::Trace | Op::Dot | Op::Sum | Op::NormSq) {
        add(SCALAR);
    }
    for id in 0..=t.index() {
        let n = NodeId(id as u32);
        if !on_path[id] {
            continue;
        }
        let args = g.args(n);
        let active = |k: usize| args.get(k).is_some_and(|a| on_path[a.index()]);
        match g.op(n) {
            Op::Transpose => add(TRANSPOSE),
            Op::MatMul if active(0) && !active(1) => add(CYCLIC),
            Op::Mul | Op::Div if g.ty(n).is_matrix() => add(HADAMARD),
            Op::RowScale if active(1) => add(CYCLIC),
            Op::Dot | Op::NormSq => add(INNER),
            Op::Sum => add(SUM),
            _ => {}
        }
    }
    out
}

/// Which nodes up to `top` depend on `leaf`.
fn depends_on(g: &Graph, top: NodeId, leaf: NodeId) -> Vec<bool> {
    let mut out = vec![false; top.index() + 1];
    for id in 0..=top.index() {
        let n = NodeId(id as u32);
        out[id] = n == leaf
            || g.args(n)
                .iter()
                .any(|a| a.index() <= top.index() && out[a.index()]);
    }
    // Only the arguments, at some remove, of `top`.
    let mut used = vec![false; top.index() + 1];
    used[top.index()] = true;
    for id in (0..=top.index()).rev() {
        if used[id] {
            for a in g.args(NodeId(id as u32)) {
                used[a.index()] = true;
            }
        }
    }
    out.iter().zip(used).map(|(d, u)| *d && u).collect()
}

/// The differential rules of the operations between `x` and `output`, in the order the
/// function applies them.
fn rules_of(g: &Graph, output: NodeId, x: NodeId) -> Vec<&'static str> {
    rules_from(g, output, x, 0)
}

/// The rules of the operations between `x` and `output` among the nodes from `from` on.
fn rules_from(g: &Graph, output: NodeId, x: NodeId, from: usize) -> Vec<&'static str> {
    let on_path = depends_on(g, output, x);
    let mut out = Vec::new();
    for (id, _) in on_path.iter().enumerate().skip(from).filter(|(_, on)| **on) {
        let n = NodeId(id as u32);
        let matrix = g.ty(n).is_matrix();
        // A product with a constant is linear: no product rule to name.
        let both = g.args(n).iter().all(|a| on_path[a.index()]);
        let rule = match g.op(n) {
            Op::Mul | Op::Scale | Op::MatMul | Op::Kron | Op::Dot if !both => None,
            // so is a quotient by a constant
            Op::Div if !g.args(n).get(1).is_some_and(|b| on_path[b.index()]) => None,
            Op::MatMul => Some("d(XY) = dX Y + X dY"),
            Op::Mul if matrix => Some("d(X ⊙ Y) = dX ⊙ Y + X ⊙ dY"),
            Op::Mul | Op::Scale => Some("d(xy) = dx y + x dy"),
            Op::Transpose => Some("d(Xᵀ) = (dX)ᵀ"),
            Op::Trace => Some("d tr(X) = tr(dX)"),
            Op::Inverse => Some("d(X⁻¹) = −X⁻¹ dX X⁻¹"),
            Op::Det => Some("d det(X) = det(X) tr(X⁻¹ dX)"),
            Op::NormSq => Some("d‖X‖² = 2 tr(Xᵀ dX)"),
            Op::Norm => Some("d‖X‖ = tr(Xᵀ dX) / ‖X‖"),
            Op::Dot => Some("d⟨X, Y⟩ = ⟨dX, Y⟩ + ⟨X, dY⟩"),
            Op::Kron => Some("d(X ⊗ Y) = dX ⊗ Y + X ⊗ dY"),
            Op::Div if matrix => Some("d(X ⊘ Y) = dX ⊘ Y − X ⊙ dY ⊘ Y ⊘ Y"),
            Op::Div => Some("d(x / y) = dx / y − x dy / y²"),
            Op::Elem(Func::Ln) => Some("d ln(X) = dX ⊘ X"),
            Op::Elem(Func::Exp) => Some("d exp(X) = exp(X) ⊙ dX"),
            Op::Elem(_) | Op::Powi(_) | Op::Powf => Some("d g(X) = g′(X) ⊙ dX"),
            Op::Cholesky => Some("d chol(A) = L Φ(L⁻¹ dA L⁻ᵀ)"),
            Op::TriSolve { .. } => Some("d(T⁻¹ B) = T⁻¹ dB − T⁻¹ dT T⁻¹ B"),
            Op::MatPow(_) => Some("d(Xᵏ) = Σ Xⁱ dX Xᵏ⁻¹⁻ⁱ"),
            Op::Max | Op::Min | Op::Extremum { .. } => Some("d max(X, c) = [X > c] ⊙ dX"),
            _ => None,
        };
        if let Some(r) = rule {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

impl Explained {
    /// The derivation as text, one step a line, the reasons aligned on the right, and the
    /// names the steps share defined once at the end.
    pub fn text(&self) -> String {
        let mut lines: Vec<(String, String)> = Vec::new();
        let mut defs: Vec<String> = Vec::new();
        let mut consistent = true;
        let mut take = |text: &str| -> (String, Vec<String>) {
            let mut parts = text.lines();
            let first = parts.next().unwrap_or_default().to_string();
            let own: Vec<String> = parts
                .map(|l| l.trim_start().trim_start_matches("where ").to_string())
                .collect();
            for d in &own {
                let name = d.split(" = ").next().unwrap_or_default();
                match defs.iter().find(|e| e.split(" = ").next() == Some(name)) {
                    Some(e) if e != d => consistent = false,
                    Some(_) => {}
                    None => defs.push(d.clone()),
                }
            }
            (first, own)
        };
        let mut own_defs = Vec::new();
        for (i, s) in self.steps.iter().enumerate() {
            let (first, own) = take(&s.text);
            let pad = " ".repeat(self.lead.chars().count());
            let lead = if i == 0 {
                format!("{} = ", self.lead)
            } else {
                format!("{pad} = ")
            };
            lines.push((format!("{lead}{first}"), s.why.clone()));
            own_defs.push(own);
        }
        let (first, own) = take(&self.result);
        let mut result = format!("⇒ {first}");
        if !self.read_off.is_empty() {
            result.push_str(&format!("   by {}", self.read_off));
        }
        own_defs.push(own);
        let width = lines
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (k, (line, why)) in lines.iter().enumerate() {
            out.push_str(line);
            if !why.is_empty() {
                out.push_str(&" ".repeat(width - line.chars().count() + 3));
                out.push_str("by ");
                out.push_str(why);
            }
            if !consistent {
                for d in &own_defs[k] {
                    out.push_str(&format!("\n       where {d}"));
                }
            }
            out.push('\n');
        }
        out.push_str(&result);
        let shared: &[String] = if consistent {
            &defs
        } else {
            &own_defs[lines.len()]
        };
        for (k, d) in shared.iter().enumerate() {
            out.push_str(if k == 0 { "\n  where " } else { "\n        " });
            out.push_str(d);
        }
        out
    }
}

/// The derivations of all variables, one block each.
pub fn text(all: &[Explained]) -> String {
    all.iter()
        .map(Explained::text)
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The derivation folded into a doc comment: a `<details>` block a reader opens to see it.
pub fn folded(text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    format!(
        "<details><summary>How this is derived (the matrix differential method)</summary>\n\n```text\n{text}\n```\n\n</details>"
    )
}
