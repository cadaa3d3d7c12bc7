//! The step-by-step derivations (`explain.rs`): golden texts, and every step of every derivation
//! checked numerically — each line is a claim Σ cᵢ tᵢ(dX) that must equal the directional
//! derivative ⟨G, dX⟩ and the central difference of f, at random X and dX on rectangular,
//! non-symmetric shapes.

use nalgebra::DMatrix;
use proc_macro2::TokenStream;

use super::rng::Rng;
use crate::eval::{eval_node, Value};
use crate::ir::{NodeId, Op};
use crate::Derivation;

fn derive(attr: &str, item: &str) -> Derivation {
    let attr: TokenStream = attr.parse().unwrap();
    let item: TokenStream = item.parse().unwrap();
    crate::derive(attr, item).unwrap_or_else(|f| panic!("{}", f.0))
}

/// How to draw a parameter: its size, and whether it must be symmetric positive definite.
#[derive(Clone, Copy)]
enum Draw {
    Scalar,
    Matrix(usize, usize),
    Spd(usize),
}

fn uniform(r: &mut Rng) -> f64 {
    (r.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

fn draw(r: &mut Rng, d: Draw) -> Value {
    match d {
        Draw::Scalar => Value::Scalar(0.5 + uniform(r).abs()),
        Draw::Matrix(m, n) => Value::Matrix(DMatrix::from_fn(m, n, |_, _| uniform(r))),
        Draw::Spd(n) => {
            let a = DMatrix::from_fn(n, n, |_, _| uniform(r));
            Value::Matrix(&a * a.transpose() + DMatrix::identity(n, n) * n as f64)
        }
    }
}

fn inner(a: &Value, b: &Value) -> f64 {
    a.entries()
        .iter()
        .zip(b.entries())
        .map(|(x, y)| x * y)
        .sum()
}

fn moved(v: &Value, d: &Value, h: f64) -> Value {
    match (v, d) {
        (Value::Scalar(x), d) => Value::Scalar(x + h * d.scalar()),
        (Value::Matrix(x), d) => Value::Matrix(x + d.matrix() * h),
    }
}

/// Check every step of every derivation of `item` at a few random points; the parameters are
/// drawn as `draws` says, by position.
fn check(attr: &str, item: &str, draws: &[Draw]) {
    let d = derive(attr, item);
    assert!(!d.derivations.is_empty(), "no derivation for {item}");
    let g = &d.body.graph;
    let mut r = Rng::new(18);
    for trial in 0..3 {
        let mut params: Vec<Value> = draws.iter().map(|&k| draw(&mut r, k)).collect();
        // The directions, each of its variable's size.
        for e in &d.derivations {
            let Op::Param(k) = g.op(e.direction) else {
                panic!("direction is not a parameter")
            };
            let of = d
                .variable_names()
                .iter()
                .position(|n| *n == e.variable)
                .map(|i| d.function.variables[i])
                .unwrap();
            while params.len() <= *k {
                params.push(Value::Scalar(0.0));
            }
            let like = params[of].clone();
            params[*k] = match like {
                Value::Scalar(_) => Value::Scalar(uniform(&mut r)),
                Value::Matrix(m) => {
                    Value::Matrix(DMatrix::from_fn(m.nrows(), m.ncols(), |_, _| {
                        uniform(&mut r)
                    }))
                }
            };
        }
        let value = |params: &[Value], n: NodeId| {
            eval_node(g, params, n).unwrap_or_else(|e| panic!("{e:?} evaluating {n:?}"))
        };
        for (i, e) in d.derivations.iter().enumerate() {
            let Op::Param(k) = g.op(e.direction) else {
                unreachable!()
            };
            let dir = params[*k].clone();
            let x = d.function.variables[i];
            let grad = value(&params, d.gradient().expect("a gradient").nodes[i].unwrap());
            let directional = inner(&grad, &dir);
            // Central differences of f along dX.
            let h = 1e-5;
            let mut plus = params.clone();
            plus[x] = moved(&params[x], &dir, h);
            let mut minus = params.clone();
            minus[x] = moved(&params[x], &dir, -h);
            let fd = (value(&plus, d.body.output).scalar() - value(&minus, d.body.output).scalar())
                / (2.0 * h);
            let scale = 1.0 + directional.abs();
            assert!(
                (fd - directional).abs() < 1e-6 * scale,
                "trial {trial}: ⟨G, d{}⟩ = {directional} but the central difference is {fd}",
                e.variable
            );
            for (s, step) in e.steps.iter().enumerate() {
                let claimed: f64 = step
                    .claim
                    .iter()
                    .map(|&(c, n)| c * value(&params, n).scalar())
                    .sum();
                assert!(
                    (claimed - directional).abs() < 1e-9 * scale,
                    "trial {trial}, step {s} of ∂f/∂{} does not hold: {} = {claimed}, but ⟨G, d{}⟩ = {directional}\n{}",
                    e.variable,
                    step.text,
                    e.variable,
                    e.text()
                );
            }
        }
    }
}

fn derivation(attr: &str, item: &str) -> String {
    crate::explain::text(&derive(attr, item).derivations)
}

const MAT: &str = "&DMatrix<f64>";

fn item(params: &str, body: &str) -> String {
    format!(
        "fn f({}) -> f64 {{ {body} }}",
        params.replace("MAT", MAT).replace("VEC", "&DVector<f64>")
    )
}

#[test]
fn print() {
    for (attr, params, body) in [
        (
            "wrt = w",
            "w: MAT, a: MAT",
            "(w.transpose() * a * w).trace()",
        ),
        (
            "wrt = w",
            "x: MAT, w: VEC, y: VEC",
            "(x * w - y).norm_squared()",
        ),
        (
            "wrt = x",
            "a: VEC, x: MAT, b: VEC",
            "(a.transpose() * x * b)[(0, 0)]",
        ),
        ("wrt = x", "x: MAT", "x.determinant().ln()"),
        (
            "wrt = x",
            "a: VEC, x: MAT, b: VEC",
            "(a.transpose() * x.clone().try_inverse().unwrap() * b)[(0, 0)]",
        ),
        (
            "wrt = w",
            "x: MAT, w: VEC",
            "(x * w).map(|v| v.tanh()).sum()",
        ),
        (
            "wrt = (w1, w2)",
            "w1: MAT, w2: MAT, x: VEC, y: VEC",
            "let h = (w1 * x).map(|v| v.tanh()); (w2 * h - y).norm_squared()",
        ),
        ("wrt = x", "x: MAT, a: MAT", "x.component_mul(a).sum()"),
        ("wrt = s", "x: MAT, s: f64", "(x * s).norm_squared()"),
    ] {
        println!("{}\n", derivation(attr, &item(params, body)));
    }
}

use Draw::{Matrix as M, Scalar as S, Spd};

/// `check!(name, "wrt = …", "params", "body", [draws])`: every step of the derivation holds.
macro_rules! check {
    ($name:ident, $attr:literal, $params:literal, $body:literal, $draws:expr) => {
        #[test]
        fn $name() {
            check($attr, &item($params, $body), &$draws);
        }
    };
}

check!(
    steps_trace_wt_a_w,
    "wrt = w",
    "w: MAT, a: MAT",
    "(w.transpose() * a * w).trace()",
    [M(4, 3), M(4, 4)]
);
check!(
    steps_least_squares,
    "wrt = w",
    "x: MAT, w: VEC, y: VEC",
    "(x * w - y).norm_squared()",
    [M(5, 3), M(3, 1), M(5, 1)]
);
check!(
    steps_bilinear,
    "wrt = x",
    "a: VEC, x: MAT, b: VEC",
    "(a.transpose() * x * b)[(0, 0)]",
    [M(4, 1), M(4, 3), M(3, 1)]
);
check!(
    steps_trace_bxcxb,
    "wrt = x",
    "b: MAT, x: MAT, c: MAT",
    "(b.transpose() * x.transpose() * c * x * b).trace()",
    [M(3, 2), M(4, 3), M(4, 4)]
);
check!(
    steps_log_det,
    "wrt = x",
    "x: MAT",
    "x.determinant().ln()",
    [Spd(4)]
);
check!(steps_det, "wrt = x", "x: MAT", "x.determinant()", [M(3, 3)]);
check!(
    steps_inverse,
    "wrt = x",
    "a: VEC, x: MAT, b: VEC",
    "(a.transpose() * x.clone().try_inverse().unwrap() * b)[(0, 0)]",
    [M(4, 1), Spd(4), M(4, 1)]
);
check!(
    steps_tanh,
    "wrt = w",
    "x: MAT, w: VEC",
    "(x * w).map(|v| v.tanh()).sum()",
    [M(5, 3), M(3, 1)]
);
check!(
    steps_two_layer,
    "wrt = (w1, w2)",
    "w1: MAT, w2: MAT, x: VEC, y: VEC",
    "let h = (w1 * x).map(|v| v.tanh()); (w2 * h - y).norm_squared()",
    [M(4, 3), M(2, 4), M(3, 1), M(2, 1)]
);
check!(
    steps_hadamard,
    "wrt = x",
    "x: MAT, a: MAT",
    "x.component_mul(a).sum()",
    [M(3, 4), M(3, 4)]
);
check!(
    steps_scalar_variable,
    "wrt = s",
    "x: MAT, s: f64",
    "(x * s).norm_squared()",
    [M(3, 2), S]
);
check!(
    steps_quadratic_form,
    "wrt = x",
    "x: VEC, a: MAT",
    "(x.transpose() * a * x)[(0, 0)]",
    [M(4, 1), M(4, 4)]
);
check!(
    steps_outer_products,
    "wrt = x",
    "a: VEC, x: VEC, b: VEC",
    "a.dot(x) * x.dot(b)",
    [M(4, 1), M(4, 1), M(4, 1)]
);
check!(steps_gaussian_nll_cholesky, "wrt = k", "k: MAT, y: VEC", "let l = k.clone().cholesky().unwrap().l(); let z = l.solve_lower_triangular(y).unwrap(); 0.5 * z.norm_squared() + l.diagonal().map(|v| v.ln()).sum()", [Spd(4), M(4, 1)]);
check!(steps_huber, "wrt = w", "x: MAT, w: VEC, y: VEC", "let r = x * w - y; r.map(|v| 0.5 * v.abs().min(1.0).powi(2) + v.abs() - v.abs().min(1.0)).sum()", [M(6, 3), M(3, 1), M(6, 1)]);
check!(steps_softmax_with_bias, "wrt = (w, b)", "x: MAT, w: MAT, b: VEC, y: MAT", "let ones = DVector::from_element(x.nrows(), 1.0); let z = x * w + ones * b.transpose(); let s = z.map(|v| v.exp()).column_sum(); s.map(|v| v.ln()).sum() - z.component_mul(y).sum()", [M(5, 3), M(3, 4), M(4, 1), M(5, 4)]);
check!(
    steps_matrix_power,
    "wrt = x",
    "x: MAT",
    "(x * x * x).trace()",
    [M(3, 3)]
);
check!(
    steps_frobenius_residual,
    "wrt = (u, v)",
    "y: MAT, u: MAT, v: MAT",
    "(y - u * v.transpose()).norm_squared()",
    [M(5, 4), M(5, 2), M(4, 2)]
);

/// A Jacobian's derivation: its differential dF, at random X and dX, is the central difference
/// of F along dX (matrix-valued).
fn check_jacobian(attr: &str, item: &str, draws: &[Draw]) {
    let attr_ts: TokenStream = attr.parse().unwrap();
    let item_ts: TokenStream = item.parse().unwrap();
    let d = crate::derive_with(crate::attr::Macro::Jacobian, attr_ts, item_ts)
        .unwrap_or_else(|f| panic!("{}", f.0));
    assert!(!d.derivations.is_empty(), "no derivation for {item}");
    let g = &d.body.graph;
    let mut r = Rng::new(1804);
    let value = |params: &[Value], n: NodeId| {
        eval_node(g, params, n).unwrap_or_else(|e| panic!("{e:?} evaluating {n:?}"))
    };
    for _ in 0..3 {
        let mut params: Vec<Value> = draws.iter().map(|&k| draw(&mut r, k)).collect();
        params.resize(g.params.len(), Value::Scalar(0.0));
        for (i, e) in d.derivations.iter().enumerate() {
            let Op::Param(k) = g.op(e.direction) else {
                unreachable!()
            };
            let x = d.function.variables[i];
            params[*k] = match &params[x] {
                Value::Scalar(_) => Value::Scalar(uniform(&mut r)),
                Value::Matrix(m) => {
                    Value::Matrix(DMatrix::from_fn(m.nrows(), m.ncols(), |_, _| {
                        uniform(&mut r)
                    }))
                }
            };
        }
        for (i, e) in d.derivations.iter().enumerate() {
            let Op::Param(k) = g.op(e.direction) else {
                unreachable!()
            };
            let x = d.function.variables[i];
            let h = 1e-5;
            let mut plus = params.clone();
            plus[x] = moved(&params[x], &params[*k], h);
            let mut minus = params.clone();
            minus[x] = moved(&params[x], &params[*k], -h);
            let fd = (value(&plus, d.body.output).matrix() - value(&minus, d.body.output).matrix())
                / (2.0 * h);
            for step in &e.steps {
                let mut claimed = fd.clone() * 0.0;
                for &(c, n) in &step.claim {
                    claimed += value(&params, n).matrix() * c;
                }
                assert!(
                    (&claimed - &fd).norm() < 1e-6 * (1.0 + fd.norm()),
                    "{} does not hold: {claimed} vs {fd}\n{}",
                    step.text,
                    e.text()
                );
            }
        }
    }
}

#[test]
fn jacobian_steps_hold() {
    let layer = "fn layer(p: &DVector<f64>, a: &DMatrix<f64>) -> DVector<f64> { (a * p).map(|v| v.tanh()) - p }";
    check_jacobian("wrt = p", layer, &[M(4, 1), M(4, 4)]);
    let axb = "fn axb(a: &DMatrix<f64>, x: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> { a * x * b }";
    check_jacobian("wrt = x", axb, &[M(3, 4), M(4, 2), M(2, 5)]);
    let two = "fn two(w: &DMatrix<f64>, x: &DMatrix<f64>, b: &DVector<f64>) -> DMatrix<f64> { (w * x).map(|v| v.exp()).transpose() + x.transpose() * w.transpose() * b * b.transpose() }";
    check_jacobian("wrt = (w, b)", two, &[M(3, 4), M(4, 2), M(3, 1)]);
    let d = crate::derive_with(
        crate::attr::Macro::Jacobian,
        "wrt = p".parse().unwrap(),
        layer.parse().unwrap(),
    )
    .unwrap_or_else(|f| panic!("{}", f.0));
    assert_eq!(
        crate::explain::text(&d.derivations),
        "df = (a dp) ⊙ (1 − tanh²(a p)) − dp   by d g(X) = g′(X) ⊙ dX\n\
         ⇒ ∂vec(f)/∂vec(p)ᵀ = diag(1 − tanh²(a p)) a − I   by vec(A dX B) = (Bᵀ ⊗ A) vec(dX), vec(a ⊙ dX) = diag(vec(a)) vec(dX)"
    );
}

/// The example, line for line: tr(WᵀAW).
#[test]
fn derivation_of_a_trace_form() {
    assert_eq!(
        derivation("wrt = w", &item("w: MAT, a: MAT", "(w.transpose() * a * w).trace()")),
        "df = tr(dwᵀ a w) + tr(wᵀ a dw)    by d(Xᵀ) = (dX)ᵀ, d(XY) = dX Y + X dY, d tr(X) = tr(dX)\n   \
         = tr(wᵀ aᵀ dw) + tr(wᵀ a dw)   by tr(Aᵀ) = tr(A), tr(AB) = tr(BA)\n   \
         = tr(wᵀ(a + aᵀ)ᵀ dw)           by collecting the terms\n\
         ⇒ ∂f/∂w = (a + aᵀ) w"
    );
}

/// A hidden layer: the chain rule through tanh, a scalar rewritten as a trace, the
/// Hadamard/trace identity, and the body's name h kept throughout.
#[test]
fn derivation_of_a_two_layer_network() {
    let d = derivation("wrt = w1", super::textbook::TWO_LAYER);
    assert_eq!(
        d,
        "df = 2 (w2 h − y)ᵀ w2 ((1 − h^⊙2) ⊙ (dw1 x))      by d g(X) = g′(X) ⊙ dX, d‖X‖² = 2 tr(Xᵀ dX)\n   \
         = tr(2 x((w2ᵀ(w2 h − y)) ⊙ (1 − h^⊙2))ᵀ dw1)   by a scalar is its own trace, ⟨A, B⟩ = tr(Aᵀ B), tr(AB) = tr(BA), tr(Aᵀ(B ⊙ C)) = tr((A ⊙ B)ᵀ C)\n\
         ⇒ ∂f/∂w1 = 2 ((w2ᵀ(w2 h − y)) ⊙ (1 − h^⊙2)) xᵀ\n  \
         where h = tanh(w1 x)"
    );
}

/// A Hessian's derivation: the differential of the gradient in the direction V (the
/// Hessian-vector product) is the central difference of the gradient along V.
#[test]
fn hessian_steps_hold() {
    let src = item(
        "x: MAT, a: MAT",
        "(x.transpose() * a * x).trace() + x.map(|v| v.exp()).sum()",
    );
    let d = derive("wrt = x, hessian", &src);
    let e = d.derivations.last().expect("a Hessian derivation");
    assert!(e.lead.starts_with("d(∂f/∂x)"), "{}", e.text());
    let g = &d.body.graph;
    let mut r = Rng::new(1805);
    let mut params: Vec<Value> = vec![draw(&mut r, M(4, 3)), draw(&mut r, M(4, 4))];
    params.resize(g.params.len(), Value::Scalar(0.0));
    let Op::Param(k) = g.op(e.direction) else {
        unreachable!()
    };
    params[*k] = draw(&mut r, M(4, 3));
    let value = |params: &[Value], n: NodeId| {
        eval_node(g, params, n).unwrap_or_else(|e| panic!("{e:?} evaluating {n:?}"))
    };
    let grad = d.gradient().expect("a gradient").nodes[0].unwrap();
    let h = 1e-5;
    let mut plus = params.clone();
    plus[0] = moved(&params[0], &params[*k], h);
    let mut minus = params.clone();
    minus[0] = moved(&params[0], &params[*k], -h);
    let fd = (value(&plus, grad).matrix() - value(&minus, grad).matrix()) / (2.0 * h);
    for step in &e.steps {
        let mut claimed = fd.clone() * 0.0;
        for &(c, n) in &step.claim {
            claimed += value(&params, n).matrix() * c;
        }
        assert!(
            (&claimed - &fd).norm() < 1e-6 * (1.0 + fd.norm()),
            "{} does not hold\n{}",
            step.text,
            e.text()
        );
    }
    assert!(e.text().contains("∇²f = "), "{}", e.text());
}

/// A Hessian's derivation, after the gradient's: the gradient's differential, then the vec rule.
#[test]
fn derivation_of_a_hessian() {
    let src = item("x: MAT, a: MAT", "(x.transpose() * a * x).trace()");
    let text = derivation("wrt = x, hessian", &src);
    let hessian = text.split("\n\n").nth(1).unwrap_or_default();
    assert_eq!(
        hessian,
        "d(∂f/∂x) = (a + aᵀ) v   (in the direction dx = v)\n\
         ⇒ ∇²f = I ⊗ (a + aᵀ)   by vec(A dX B) = (Bᵀ ⊗ A) vec(dX)"
    );
}

/// Every step of the derivation of every gradient in the repository (the functions the
/// snapshot expands: tests, examples, benches, integrations) holds at random inputs of random
/// sizes: each line equals ⟨G, dX⟩. Functions the interpreter cannot evaluate (code copied
/// through, sizes it cannot tell) and inputs outside a function's domain (a non-finite value)
/// are skipped; most are checked.
#[test]
fn every_step_of_every_derivation_in_the_repository_holds() {
    use std::path::Path;
    use syn::visit::Visit;

    use crate::shape::{Dim, Ty};

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in ["tests", "examples", "benches", "integrations", "src"] {
        super::snapshot::rust_files(&root.join(dir), &mut files);
    }
    let (mut checked, mut steps, mut skipped) = (0, 0, 0);
    let mut r = Rng::new(1806);
    for path in files {
        let Ok(src) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(file) = syn::parse_file(&src) else {
            continue;
        };
        let mut found = super::snapshot::Annotated::default();
        found.visit_file(&file);
        for (kind, attr, item) in found.found {
            if !matches!(kind, crate::attr::Macro::Gradient) {
                continue;
            }
            let Ok(d) = crate::derive(attr.clone(), item) else {
                continue;
            };
            let g = &d.body.graph;
            let gradients = d.derivations.iter().filter(|e| e.lead == "df");
            // A size for each dimension variable, a value for each parameter.
            let mut size = std::collections::BTreeMap::new();
            let mut dim = |x: Dim, r: &mut Rng| match (g.dims.known(x), x) {
                (Some(n), _) | (None, Dim::Fixed(n)) => n,
                (None, Dim::Dyn(v)) => *size.entry(g.dims.find(v)).or_insert(2 + r.below(4)),
            };
            let mut params = Vec::new();
            let mut ok = true;
            for k in 0..g.params.len() {
                let ty = (0..g.len())
                    .map(|i| NodeId(i as u32))
                    .find(|&n| *g.op(n) == Op::Param(k))
                    .map(|n| g.ty(n));
                params.push(match ty {
                    Some(Ty::Scalar) => Value::Scalar(0.3 + uniform(&mut r).abs()),
                    Some(Ty::Matrix(s)) => {
                        let (m, n) = (dim(s.rows, &mut r), dim(s.cols, &mut r));
                        // Square matrices diagonally dominant and positive, so that inverses,
                        // determinants' logarithms and Cholesky factors exist.
                        let mut a = DMatrix::from_fn(m, n, |_, _| uniform(&mut r));
                        if m == n {
                            a = &a * a.transpose() + DMatrix::identity(n, n) * n as f64;
                        }
                        Value::Matrix(a)
                    }
                    _ => {
                        ok = false;
                        Value::Scalar(0.0)
                    }
                });
            }
            if !ok {
                skipped += 1;
                continue;
            }
            // Sizes the interpreter finds inconsistent (products of sizes, say) make it panic:
            // such a function is skipped, not failed.
            let consistent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                eval_node(g, &params, d.body.output).map(|v| v.scalar().is_finite())
            }));
            if !matches!(consistent, Ok(Ok(true))) {
                skipped += 1;
                continue;
            }
            let mut all_finite = true;
            for (i, e) in gradients.enumerate() {
                let (Some(grad), Op::Param(k)) = (
                    d.gradient().expect("a gradient").nodes[i],
                    g.op(e.direction),
                ) else {
                    continue;
                };
                let (Ok(gv), Ok(dir)) =
                    (eval_node(g, &params, grad), Ok::<_, ()>(params[*k].clone()))
                else {
                    all_finite = false;
                    continue;
                };
                let directional = inner(&gv, &dir);
                if !directional.is_finite() {
                    all_finite = false;
                    continue;
                }
                for step in &e.steps {
                    let Ok(claimed) = step
                        .claim
                        .iter()
                        .map(|&(c, n)| eval_node(g, &params, n).map(|v| c * v.scalar()))
                        .sum::<Result<f64, _>>()
                    else {
                        all_finite = false;
                        continue;
                    };
                    assert!(
                        (claimed - directional).abs() <= 1e-8 * (1.0 + directional.abs()),
                        "{}: {} = {claimed}, but ⟨G, d{}⟩ = {directional}\n{}",
                        path.display(),
                        step.text,
                        e.variable,
                        e.text()
                    );
                    steps += 1;
                }
            }
            if all_finite {
                checked += 1;
            } else {
                skipped += 1;
            }
        }
    }
    println!("{checked} functions' derivations checked ({steps} steps), {skipped} skipped");
    assert!(checked >= 100, "only {checked} checked, {skipped} skipped");
}
