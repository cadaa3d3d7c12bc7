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
// Iterators and closures as people write them (issue "Code as people write it", part 4): each
// reads as the matrix expression it is, so its formula is the textbook's.
formula!(iter_map_sum, "w: &DVector<f64>", "w.iter().map(|v| v.tanh()).sum::<f64>()", "w" => "1 − tanh²(w)");
formula!(iter_map_sum_without_turbofish, "x: &DMatrix<f64>, w: &DVector<f64>", "(x * w).iter().map(|&v| v.exp()).sum()", "w" => "xᵀ exp(x w)");
formula!(into_iter_copied_map_sum, "w: &DVector<f64>", "w.into_iter().copied().map(f64::exp).sum::<f64>()", "w" => "exp(w)");
formula!(iter_sum, "x: &DMatrix<f64>, w: &DVector<f64>", "(x * w).iter().sum::<f64>()", "w" => "xᵀ 1");
formula!(map_function_path, "x: &DMatrix<f64>, w: &DVector<f64>", "(x * w).map(f64::tanh).sum()", "w" => "xᵀ(1 − tanh²(x w))");
formula!(iter_zip_map_sum_dot, "a: &DVector<f64>, b: &DVector<f64>", "a.iter().zip(b.iter()).map(|(u, v)| u * v).sum::<f64>()", "a" => "b");
formula!(zip_map_both_variables, "a: &DMatrix<f64>, b: &DMatrix<f64>", "a.zip_map(b, |u, v| u * v).sum()", "(a, b)" => "b\na");
formula!(poisson_map_exp, "x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>", "let z = x * w; z.map(f64::exp).sum() - y.dot(&z)", "w" => "xᵀ(exp(x w) − y)");
// A constant `map` is copied through as written, and printed as written (or by its name).
formula!(inactive_map_dot, "p: &DVector<f64>, y: &DVector<f64>", "y.map(|v| 1.0 - v).dot(&p)", "p" => "y.map(| v | 1.0 - v)");
formula!(inactive_map_let_dot, "p: &DVector<f64>, y: &DVector<f64>", "let q = y.map(|v| 1.0 - v); q.dot(&p)", "p" => "q");
formula!(inactive_zip_map_component_mul, "p: &DVector<f64>, y: &DVector<f64>, c: &DVector<f64>", "let q = y.zip_map(c, |u, v| u * v); q.component_mul(&p).sum()", "p" => "q");
formula!(closure_captures_a_variable, "z: &DVector<f64>, s: f64", "z.map(|v| (v * s).tanh()).sum()", "(z, s)" => "s(1 − tanh²(s z))\n(1 − tanh²(s z))ᵀ z");
formula!(closure_captures_a_let, "z: &DVector<f64>, s: f64", "let t = 2.0 * s; z.map(|v| (v * t).tanh()).sum()", "s" => "2 zᵀ(1 − tanh²(2 s z))");

fn error_of(wrt: &str, item: &str) -> String {
    match derive(&format!("wrt = {wrt}"), item) {
        Ok(f) => panic!("no error: {f:?}"),
        Err(e) => e,
    }
}

#[test]
fn iterators_that_matgrad_does_not_read_are_errors_that_say_what_it_reads() {
    let e = error_of(
        "w",
        "fn f(w: &DVector<f64>) -> f64 { w.iter().map(|v| v.ln()).product::<f64>() }",
    );
    assert!(e.contains("product"), "{e}");
    let e = error_of(
        "w",
        "fn f(w: &DVector<f64>) -> f64 { w.iter().filter(|v| **v > 0.0).sum::<f64>() }",
    );
    assert!(e.contains("`.filter(..)`") && e.contains("zip"), "{e}");
    let e = error_of("(a, b)", "fn f(a: &Vector2<f64>, b: &Vector3<f64>) -> f64 { a.iter().zip(b.iter()).map(|(u, v)| u * v).sum::<f64>() }");
    assert!(e.contains("2×1") && e.contains("3×1"), "{e}");
    let e = error_of("(a, b)", "fn f(a: &DVector<f64>, b: &DVector<f64>) -> f64 { a.iter().zip(b.iter()).map(|p| p.0 * p.1).sum::<f64>() }");
    assert!(e.contains("|(u, v)|"), "{e}");
    let e = error_of(
        "a",
        "fn f(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 { a.zip_map(b, |u| u).sum() }",
    );
    assert!(e.contains("two arguments"), "{e}");
    let e = error_of(
        "a",
        "fn f(a: &Matrix2x3<f64>, b: &Matrix3x2<f64>) -> f64 { a.zip_map(b, |u, v| u * v).sum() }",
    );
    assert!(e.contains("2×3") && e.contains("3×2"), "{e}");
}

// An entry cast to the scalar type is the entry; code that uses an entry otherwise cannot be
// copied into generated code (which has whole matrices only), and is an error that says what to
// do instead: the constant matrix computed before, combined entrywise.
formula!(entry_cast_is_the_entry, "a: &DVector<f64>, l: &DVector<f64>", "a.zip_map(l, |u, m| u * (m as f64)).sum()", "a" => "l");
formula!(mask_computed_before_the_closure, "a: &DVector<f64>, l: &DVector<f64>", "let c = l.map(|m| if m > 0.5 { 1.0 } else { 2.0 }); a.component_mul(&c).sum()", "a" => "c");

#[test]
fn code_that_uses_an_entry_is_not_copied() {
    for body in [
        "a.zip_map(l, |u, m| u * m.clamp(0.0, 1.0)).sum()",
        "a.map(|u| u * s).zip_map(l, |u, m| u * m.clamp(0.0, 1.0)).sum()",
    ] {
        let item = format!("fn f(a: &DVector<f64>, l: &DVector<f64>, s: f64) -> f64 {{ {body} }}");
        let e = error_of("a", &item);
        assert!(
            e.contains("uses the entry `m`") && e.contains("let c = l.map(|m| ..);"),
            "{e}"
        );
    }
}

// A branch on an entry is read entry by entry (`front/lower/branches.rs`).
formula!(branch_on_an_entry_in_a_zip, "a: &DVector<f64>, l: &DVector<f64>", "a.iter().zip(l.iter()).map(|(&u, &m)| u * if m > 0.5 { 1.0 } else { 2.0 }).sum::<f64>()", "a" => "{1 if l > 0.5; 2 otherwise}");

#[test]
fn an_entry_of_another_type_is_converted_before_the_closure() {
    let item = "fn f(a: &DVector<f64>, l: &DVector<f32>) -> f64 { a.zip_map(l, |u, m| u * (m as f64)).sum() }";
    let e = error_of("a", item);
    assert!(
        e.contains("cast of `m`") && e.contains("let c = l.map(|v| v as f64);"),
        "{e}"
    );
}

// A `let` inside a closure that uses an entry is entrywise, read with the closure; one that does
// not is a constant, emitted as written.
formula!(let_of_an_entry_in_a_closure, "a: &DVector<f64>, l: &DVector<f64>", "a.zip_map(l, |u, m| { let k = m * 2.0; u * k }).sum()", "a" => "2 l");
formula!(constant_let_in_a_closure, "a: &DVector<f64>", "a.map(|u| { let k = 2.0; u * k }).sum()", "a" => "k 1");

#[test]
fn code_derived_from_an_entry_is_not_copied() {
    for (body, what) in [
        (
            "a.zip_map(l, |u, m| { let k = m * 2.0; u * k.clamp(0.0, 1.0) }).sum()",
            "uses the entry `k`",
        ),
        (
            "a.zip_map(l, |u, m| { println!(\"{}\", m); u * m }).sum()",
            "cannot use the entry `m`",
        ),
    ] {
        let item = format!("fn f(a: &DVector<f64>, l: &DVector<f64>) -> f64 {{ {body} }}");
        let e = error_of("a", &item);
        assert!(e.contains(what), "{e}");
    }
}

// Closures inside closures: the softmax's denominator, a sum over the entries computed inside
// the map, is read; a closure that uses the entry of the one around it pairs each entry with
// every other, and is an error, as is an entry combined with a whole matrix the closure
// captures. Whole matrices combine as matrices even inside a closure.
formula!(sum_inside_a_map, "x: &DVector<f64>, y: &DVector<f64>", "x.map(|v| v.exp() / x.iter().map(|u| u.exp()).sum::<f64>()).dot(y)", "x" => "(u ⊙ (y − 1 yᵀ u / sum(u))) / sum(u)\n  where u = exp(x)");
formula!(inner_closure_shadows_the_entry, "x: &DVector<f64>", "x.map(|v| v * x.iter().map(|v| v.exp()).sum::<f64>()).sum()", "x" => "sum(exp(x)) 1 + sum(x) exp(x)");
formula!(methods_of_a_captured_matrix_inside_a_closure, "x: &DVector<f64>, y: &DVector<f64>", "x.map(|v| v * y.max() + v * y.column(0).sum()).sum()", "y" => "embed₍0,0₎(sum(x) 1) + sum(x) [y = max y]");
formula!(whole_matrices_inside_a_closure, "x: &DVector<f64>, a: &DMatrix<f64>, b: &DVector<f64>", "x.map(|v| v * (a * b).sum()).sum()", "x" => "sum(a b) 1");

#[test]
fn entries_are_not_paired_with_whole_matrices() {
    for (body, what) in [
        (
            "x.map(|v| x.map(|u| u * v).sum()).sum()",
            "the entry of the closure around it",
        ),
        (
            "x.map(|v| x.iter().map(|u| u * v).sum::<f64>()).sum()",
            "the entry of the closure around it",
        ),
        ("x.map(|v| (v * y).sum()).sum()", "`y` is a whole matrix"),
        ("x.map(|v| y.dot(&(y * v))).sum()", "`y` is a whole matrix"),
        (
            "x.map(|v| (x * v).iter().sum::<f64>()).sum()",
            "the entry of the closure around it",
        ),
    ] {
        let item = format!("fn f(x: &DVector<f64>, y: &DVector<f64>) -> f64 {{ {body} }}");
        let e = error_of("x", &item);
        assert!(e.contains(what), "{body}: {e}");
    }
    // A function of a whole matrix inside a closure is the matrix's, not entrywise.
    let item =
        "fn f(x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 { x.map(|v| v * y.exp().sum()).sum() }";
    let e = error_of("(x, y)", item);
    assert!(e.contains("not entrywise in nalgebra"), "{e}");
}

/// The formula constants are raw string literals, which rustdoc shows as written (an ordinary
/// literal from a macro reaches it with `\u{2202}` escapes).
#[test]
fn formula_constants_are_raw_strings() {
    let out = crate::expand_gradient(
        "wrt = w".parse().unwrap(),
        "fn f(w: &DVector<f64>) -> f64 { w.norm_squared() }"
            .parse()
            .unwrap(),
    )
    .to_string();
    assert!(out.contains("r#\"∂f/∂w = 2 w\"#"), "{out}");
}
