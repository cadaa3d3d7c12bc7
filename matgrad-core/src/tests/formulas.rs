//! Golden tests of the engine, run without compiling any user code: a function's source in,
//! the derived formula (or the error message) out.

use proc_macro2::TokenStream;

fn derive(attr: &str, item: &str) -> Result<Vec<String>, String> {
    let attr: TokenStream = attr.parse().map_err(|e| format!("{e:?}"))?;
    let item: TokenStream = item.parse().map_err(|e| format!("{e:?}"))?;
    crate::derive(attr, item)
        .map(|d| d.gradient().map(|g| g.formulas.clone()).unwrap_or_default())
        .map_err(|failure| {
            let (e, _, _) = *failure;
            e.into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
}

/// `formula!(params => body, wrt => "∂f/∂wrt")`: one line per identity.
macro_rules! formula {
    ($name:ident, $params:literal, $body:literal, $wrt:literal => $want:literal) => {
        #[test]
        fn $name() {
            let item = format!("fn f({}) -> f64 {{ {} }}", $params, $body);
            let got = derive(concat!("wrt = ", $wrt), &item).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(got.join("\n"), $want);
        }
    };
}

const MAT: &str = "";

// Seed 000
formula!(seed000_a_x_b, "a: &DVector<f64>, x: &DMatrix<f64>, b: &DVector<f64>", "(a.transpose() * x * b)[(0, 0)]", "x" => "a bᵀ");
formula!(seed000_least_squares, "x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>", "(x * w - y).norm_squared()", "w" => "2 xᵀ(x w − y)");
formula!(seed000_trace_wt_a_w, "w: &DMatrix<f64>, a: &DMatrix<f64>", "(w.transpose() * a * w).trace()", "w" => "(a + aᵀ) w");
formula!(seed000_trace_bxcxb, "b: &DMatrix<f64>, x: &DMatrix<f64>, c: &DMatrix<f64>", "(b.transpose() * x.transpose() * c * x * b).trace()", "x" => "(c + cᵀ) x b bᵀ");
formula!(seed000_det, "a: &DMatrix<f64>", "a.determinant()", "a" => "det(a) a⁻ᵀ");
// Seed 003
formula!(seed003_xax, "x: &DVector<f64>, a: &DMatrix<f64>", "(x.transpose() * a * x)[(0, 0)]", "x" => "(a + aᵀ) x");
formula!(seed003_axxb, "a: &DVector<f64>, x: &DVector<f64>, b: &DVector<f64>", "a.dot(x) * x.dot(b)", "x" => "(a bᵀ + b aᵀ) x");
// Rules
formula!(rule_inverse, "a: &DVector<f64>, x: &DMatrix<f64>, b: &DVector<f64>", "(a.transpose() * x.clone().try_inverse().unwrap() * b)[(0, 0)]", "x" => "−x⁻ᵀ a bᵀ x⁻ᵀ");
formula!(rule_log_det, "x: &DMatrix<f64>", "x.determinant().ln()", "x" => "x⁻ᵀ");
formula!(rule_hadamard, "x: &DMatrix<f64>, a: &DMatrix<f64>", "x.component_mul(a).sum()", "x" => "a");
formula!(rule_exp, "x: &DMatrix<f64>, w: &DVector<f64>", "(x * w).map(|v| v.exp()).sum()", "w" => "xᵀ exp(x w)");
formula!(rule_tanh, "w: &DMatrix<f64>, x: &DVector<f64>", "(w * x).map(|v| v.tanh()).sum()", "x" => "wᵀ(1 − tanh²(w x))");
formula!(rule_norm, "x: &DVector<f64>", "x.norm()", "x" => "x / ‖x‖");
formula!(rule_scalar_var, "x: &DMatrix<f64>, s: f64", "(x * s).norm_squared()", "s" => "2 s ‖x‖²");
formula!(rule_trace_power, "x: &DMatrix<f64>", "(x * x * x).trace()", "x" => "3 (x²)ᵀ");

#[test]
fn print_expansion() {
    let _ = MAT;
    let item: TokenStream = "pub fn least_squares(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 { let r = x * w - y; r.norm_squared() + 0.5 * w.norm_squared() }".parse().unwrap();
    let out = crate::expand_gradient("wrt = w".parse().unwrap(), item);
    println!("{out}");
}

#[test]
fn expansion_parses_as_a_file() {
    let item: TokenStream = "fn f(x: &DMatrix<f64>) -> f64 { x.trace() }"
        .parse()
        .unwrap();
    let out = crate::expand_gradient("wrt = x".parse().unwrap(), item);
    if let Err(e) = syn::parse2::<syn::File>(out.clone()) {
        panic!("{e}: {out}");
    }
}

#[test]
fn inverse_multiplied_by_vectors_is_solved_not_formed() {
    let item: TokenStream =
        "fn f(a: &DVector<f64>, x: &DMatrix<f64>, b: &DVector<f64>) -> f64 { (a.transpose() * x.clone().try_inverse().unwrap() * b)[(0, 0)] }"
            .parse()
            .unwrap();
    let out = crate::expand_gradient("wrt = x".parse().unwrap(), item).to_string();
    let grad = &out[out.find("fn f_grad").unwrap()..];
    let grad = &grad[..grad.find("fn f_value_and_grad").unwrap()];
    assert!(grad.contains("Lu :: new"), "{grad}");
    assert!(!grad.contains(". try_inverse ()"), "{grad}");
}

// Branches: the gradient of a piecewise function is piecewise, case by case.
formula!(branch_huber, "w: &DVector<f64>, d: f64", "w.map(|r| if r.abs() <= d { 0.5 * r * r } else { d * (r.abs() - 0.5 * d) }).sum()", "w" => "{w if |w| ≤ d; d sign(w) otherwise}");
formula!(branch_leaky_relu, "x: &DMatrix<f64>, w: &DVector<f64>", "(x * w).map(|z| if z > 0.0 { z } else { 0.01 * z }).sum()", "w" => "xᵀ({1 if x w > 0; 0.01 otherwise})");
formula!(branch_guarded_log, "w: &DVector<f64>", "w.map(|v| if v > 0.0 { v.ln() } else { 0.0 }).sum()", "w" => "{1 ⊘ w if w > 0; 0 otherwise}");
formula!(branch_on_the_variable, "w: &DVector<f64>, r: f64", "if w.norm() > r { w.norm() } else { w.norm_squared() }", "w" => "{w / ‖w‖ if ‖w‖ > r; 2 w otherwise}");
formula!(branch_on_a_constant, "w: &DVector<f64>, l1: bool", "if l1 { w.map(|v| v.abs()).sum() } else { w.norm_squared() }", "w" => "{sign(w) if l1; 2 w otherwise}");
formula!(branch_trust_region, "w: &DVector<f64>, a: &DMatrix<f64>, r: f64", "let z = if w.norm() > r { a * w } else { w.clone() }; z.norm_squared()", "w" => "{2 aᵀ a w if ‖w‖ > r; 2 w otherwise}");
