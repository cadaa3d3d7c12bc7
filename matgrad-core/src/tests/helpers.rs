//! `#[differentiable]` helpers read in: the caller's expansion with a helper is the expansion
//! of the same function written out by hand (inlining costs nothing at run time, and the
//! formula is the same), and reading helpers in is cheap at expansion time.

use proc_macro2::TokenStream;

use crate::attr::Macro;
use crate::front::helpers::Helper;

fn helper(path: &str, item: &str) -> Helper {
    Helper {
        path: syn::parse_str(path).unwrap(),
        item: syn::parse_str(item).unwrap(),
    }
}

/// The generated items after the function itself, with the caller's name in place.
fn companions(attr: &str, item: &str, helpers: &[Helper]) -> String {
    let out = crate::expand_with_helpers(
        Macro::Gradient,
        attr.parse().unwrap(),
        item.parse().unwrap(),
        helpers,
        false,
    );
    out.to_string()
}

#[test]
fn a_helper_read_in_gives_the_code_written_out_by_hand() {
    let helpers = [
        helper(
            "kernels::se",
            "fn se(a: &DVector<f64>, b: &DVector<f64>, ell: f64) -> f64 { (-kernels_d(a, b) / (2.0 * ell * ell)).exp() }",
        ),
        helper(
            "kernels::kernels_d",
            "fn kernels_d(a: &DVector<f64>, b: &DVector<f64>) -> f64 { (a - b).norm_squared() }",
        ),
    ];
    let with_helpers = companions(
        "wrt = x",
        "fn f(x: &DVector<f64>, y: &DVector<f64>) -> f64 { kernels::se(x, y, 0.5) }",
        &helpers,
    );
    let by_hand = companions(
        "wrt = x",
        "fn f(x: &DVector<f64>, y: &DVector<f64>) -> f64 { (-(x - y).norm_squared() / (2.0 * 0.5 * 0.5)).exp() }",
        &[],
    );
    // The same code and formula; only the doc text may quote the body differently.
    let code = |s: &str| -> String {
        s.split("# [doc")
            .map(|part| part.split_once("\"]").map_or(part, |(_, rest)| rest))
            .collect()
    };
    assert_eq!(code(&with_helpers), code(&by_hand));
    let formula = |s: &str| -> String {
        let i = s.find("∂f/∂x = ").unwrap();
        s[i..].split(['"', '\\']).next().unwrap().to_string()
    };
    assert_eq!(formula(&with_helpers), formula(&by_hand));
}

#[test]
fn reading_helpers_in_is_cheap() {
    let helpers = [helper(
        "layer",
        "fn layer(w: &DMatrix<f64>, x: &DMatrix<f64>) -> DMatrix<f64> { (w * x).map(|z| z.tanh()) }",
    )];
    let item: TokenStream = "fn f(w1: &DMatrix<f64>, w2: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 { layer(w2, &layer(w1, x)).sum() }".parse().unwrap();
    let start = std::time::Instant::now();
    for _ in 0..20 {
        let _ = crate::expand_with_helpers(
            Macro::Gradient,
            "wrt = (w1, w2), hessian".parse().unwrap(),
            item.clone(),
            &helpers,
            false,
        );
    }
    let each = start.elapsed() / 20;
    eprintln!("a caller with a helper called twice, with its Hessian: {each:?} per expansion");
    assert!(each.as_millis() < 200, "{each:?}");
}

/// Helper bodies of (a, b: vectors, s: a scalar), each with a scalar value.
const HELPER_BODIES: &[&str] = &[
    "(a - b).norm_squared() * s",
    "a.dot(b) * s + s * s",
    "(a * s).map(|v| v.tanh()).sum()",
    "let t = a.component_mul(b); t.sum() + s * t.norm_squared()",
    "(-(a - b).norm_squared() / (2.0 * s * s)).exp()",
    "a.map(|v| if v > 0.0 { v * s } else { 0.1 * v }).sum() + b.sum()",
    "let a = a * 2.0; a.dot(b) / s",
];

/// Callers of the helper `h` with variables x (a vector) and k (a scalar) and a constant y.
const CALLERS: &[&str] = &[
    "h(&x, &y, k)",
    "h(&(2.0 * &x), &y, k) + h(&y, &x, 0.5)",
    "h(&x, &x, k) * h(&y, &x, k)",
    "let z = &x - &y; h(&z, &y, k) + z.sum()",
    "let a = &x * 2.0; let s = k * 2.0; h(&a, &y, s) + s + a.sum()",
];

/// Helpers read in, drawn at random: the gradient of every caller with every helper body, at
/// random points, against central differences of the caller's value (both evaluated by the
/// interpreter on the graph the engine built). The helpers' names (`a`, `s`) clash with the
/// callers' on purpose.
#[test]
fn random_callers_of_random_helpers_match_finite_differences() {
    use crate::eval::{eval, eval_node, Value};
    use nalgebra::DMatrix;
    let mut rng = super::rng::Rng::new(0x5EED_4E1F);
    let mut unit = |rng: &mut super::rng::Rng| (rng.next() % 10_000) as f64 / 10_000.0 - 0.5;
    let (mut checked, mut skipped) = (0, 0);
    for (hi, body) in HELPER_BODIES.iter().enumerate() {
        for (ci, caller) in CALLERS.iter().enumerate() {
            let helpers = [helper(
                "h",
                &format!("fn h(a: &DVector<f64>, b: &DVector<f64>, s: f64) -> f64 {{ {body} }}"),
            )];
            let item =
                format!("fn f(x: &DVector<f64>, y: &DVector<f64>, k: f64) -> f64 {{ {caller} }}");
            let d = match crate::derive_with_helpers(
                Macro::Gradient,
                "wrt = (x, k)".parse().unwrap(),
                item.parse().unwrap(),
                &helpers,
            ) {
                Ok(d) => d,
                Err(_) => panic!("helper {hi} with caller {ci} did not derive"),
            };
            let g = &d.body.graph;
            let grads = &d.gradient().expect("a gradient").nodes;
            let n = 2 + rng.below(3);
            let point =
                |rng: &mut super::rng::Rng, unit: &mut dyn FnMut(&mut super::rng::Rng) -> f64| {
                    vec![
                        Value::Matrix(DMatrix::from_fn(n, 1, |_, _| unit(rng))),
                        Value::Matrix(DMatrix::from_fn(n, 1, |_, _| unit(rng))),
                        Value::Scalar(0.7 + unit(rng)),
                    ]
                };
            let params = point(&mut rng, &mut unit);
            // Up to the gradients: the derivations' steps after them have directions of their own.
            let last = grads
                .iter()
                .flatten()
                .copied()
                .chain([d.body.output])
                .max_by_key(|n| n.index())
                .unwrap_or(d.body.output);
            // A constant copied through (a map of constant arguments) has no value in the
            // interpreter: such combinations are skipped, and counted.
            let values = match eval(g, &params, last) {
                Ok(v) => v,
                Err(crate::eval::EvalError::Unsupported(_)) => {
                    skipped += 1;
                    continue;
                }
                Err(e) => panic!("helper {hi} with caller {ci}: {e:?}"),
            };
            let f = |p: &[Value]| eval_node(g, p, d.body.output).unwrap().scalar();
            let h = 1e-6;
            // ∂f/∂x entry by entry, and ∂f/∂k.
            for k in 0..n {
                let (mut plus, mut minus) = (params.clone(), params.clone());
                plus[0] = params[0].with_entry(k, params[0].entries()[k] + h);
                minus[0] = params[0].with_entry(k, params[0].entries()[k] - h);
                let numeric = (f(&plus) - f(&minus)) / (2.0 * h);
                let got = grads[0].map_or(0.0, |gx| values[gx.index()].entries()[k]);
                assert!(
                    (got - numeric).abs() <= 1e-5 * numeric.abs().max(1.0),
                    "helper {body:?} called as {caller:?}: ∂f/∂x[{k}] = {got}, differences {numeric}"
                );
            }
            let (mut plus, mut minus) = (params.clone(), params.clone());
            plus[2] = Value::Scalar(params[2].scalar() + h);
            minus[2] = Value::Scalar(params[2].scalar() - h);
            let numeric = (f(&plus) - f(&minus)) / (2.0 * h);
            let got = grads[1].map_or(0.0, |gk| values[gk.index()].scalar());
            assert!(
                (got - numeric).abs() <= 1e-5 * numeric.abs().max(1.0),
                "helper {body:?} called as {caller:?}: ∂f/∂k = {got}, differences {numeric}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked + skipped, HELPER_BODIES.len() * CALLERS.len());
    eprintln!("{checked} combinations checked, {skipped} skipped");
    assert!(
        skipped * 5 <= checked,
        "{skipped} skipped, {checked} checked"
    );
}
