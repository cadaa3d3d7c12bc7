//! Issue 18: formulas as a textbook prints them, for functions written the way their authors
//! write them (casts, biases through a vector of ones, a Cholesky factor, a branch in a `map`).

use proc_macro2::TokenStream;

/// The formulas of a function, checked for Rust syntax and ASCII minus signs on the way.
fn formulas(kind: crate::attr::Macro, attr: &str, item: &str) -> String {
    let text = derived(kind, attr, item);
    for rust in [" as f64", " as f32", ".nrows()", ".len()", "-", "::"] {
        assert!(!text.contains(rust), "{rust:?} in {text}");
    }
    text
}

fn derived(kind: crate::attr::Macro, attr: &str, item: &str) -> String {
    let attr: TokenStream = attr.parse().unwrap();
    let item: TokenStream = item.parse().unwrap();
    match crate::derive_with(kind, attr, item) {
        Ok(d) => match d.jacobian() {
            Some(j) => j
                .differentials
                .iter()
                .zip(&j.formulas)
                .map(|(df, jf)| format!("df = {df}\nJ = {jf}"))
                .collect::<Vec<_>>()
                .join("\n"),
            None => d
                .gradient()
                .map(|g| g.formulas.join("\n"))
                .unwrap_or_default(),
        },
        Err(f) => panic!("{}", f.0),
    }
}

pub(crate) const SOFTMAX: &str =
    "fn softmax(x: &DMatrix<f64>, w: &DMatrix<f64>, b: &DVector<f64>, y: &DMatrix<f64>) -> f64 {
    let n = x.nrows();
    let ones = DVector::from_element(n, 1.0);
    let z = x * w + ones * b.transpose();
    let s = z.map(|v| v.exp()).column_sum();
    (s.map(|v| v.ln()).sum() - z.component_mul(y).sum()) / (n as f64)
}";

pub(crate) const GAUSSIAN_NLL: &str = "fn gaussian_nll(k: &DMatrix<f64>, y: &DVector<f64>) -> f64 {
    let l = k.clone().cholesky().unwrap().l();
    let z = l.solve_lower_triangular(y).unwrap();
    0.5 * z.norm_squared() + l.diagonal().map(|v| v.ln()).sum()
}";

pub(crate) const TWO_LAYER: &str = "fn two_layer(w1: &DMatrix<f64>, w2: &DMatrix<f64>, x: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let h = (w1 * x).map(|v| v.tanh());
    (w2 * h - y).norm_squared()
}";

pub(crate) const HUBER: &str =
    "fn huber(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let r = x * w - y;
    r.map(|v| 0.5 * v.abs().min(1.0).powi(2) + v.abs() - v.abs().min(1.0)).sum()
}";

pub(crate) const LAYER_JACOBIAN: &str =
    "fn layer(p: &DVector<f64>, a: &DMatrix<f64>) -> DVector<f64> {
    (a * p).map(|v| v.tanh()) - p
}";

/// One golden formula: the function's source and attribute in, its formulas out.
macro_rules! textbook {
    ($name:ident, $kind:ident, $attr:literal, $src:expr => $want:literal) => {
        #[test]
        fn $name() {
            let got = formulas(crate::attr::Macro::$kind, $attr, $src);
            assert_eq!(got, $want, "\n{got}");
        }
    };
}

// `n as f64` is n, 1/n is a division of the whole, the row sums' reciprocals scale rows
// (diag(1 ⊘ s) E, not E ⊙ ((1/n ⊘ s) 1ᵀ)), and the logits the body named are named once.
textbook!(softmax_with_bias, Gradient, "wrt = (w, b)", SOFTMAX =>
    "xᵀ(diag(1 ⊘ (exp(z) 1)) exp(z) − y) / n\n  where z = x w + 1 bᵀ\n(diag(1 ⊘ (exp(z) 1)) exp(z) − y)ᵀ 1 / n\n  where z = x w + 1 bᵀ");
// The repeated half of the symmetrisation is named once: Φ(l⁻ᵀ(M + Mᵀ) l⁻¹).
textbook!(gaussian_nll_through_cholesky, Gradient, "wrt = k", GAUSSIAN_NLL =>
    "Φ(l⁻ᵀ(M + Mᵀ) l⁻¹)\n  where l = chol(k)\n        M = Φ(lᵀ(diag(1 ⊘ diag(l)) + tril(−l⁻ᵀ l⁻¹ y yᵀ l⁻ᵀ)))");
// The hidden layer reads tanh(w1 x), transposed as a whole: hᵀ, not tanh(xᵀ w1ᵀ).
textbook!(two_layer_tanh_network, Gradient, "wrt = (w1, w2)", TWO_LAYER =>
    "2 ((w2ᵀ(w2 h − y)) ⊙ (1 − h^⊙2)) xᵀ\n  where h = tanh(w1 x)\n2 (w2 h − y) hᵀ\n  where h = tanh(w1 x)");
// One minus sign throughout, and the indicator [|r| < 1] rather than [−|r| > -1].
textbook!(huber_loss, Gradient, "wrt = w", HUBER =>
    "xᵀ(((min(|r|, 1) − 1) ⊙ [|r| < 1] + 1) ⊙ sign(r))\n  where r = x w − y");
textbook!(tanh_layer_jacobian, Jacobian, "wrt = p", LAYER_JACOBIAN =>
    "df = (a dp) ⊙ (1 − tanh²(a p)) − dp\nJ = diag(1 − tanh²(a p)) a − I");
textbook!(mean_over_rows_is_a_division, Gradient, "wrt = w",
    "fn f(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 { (x * w - y).norm_squared() / (x.nrows() as f64) }" =>
    "2 xᵀ(x w − y) / nrows(x)");
textbook!(no_negative_zero, Jacobian, "wrt = p",
    "fn f(p: &DVector<f64>) -> DVector<f64> { DVector::from_vec(vec![1.0 - p[1], -(p[0] * 0.0), 3.0 - p[0] * p[0]]) }" =>
    "df = [−dp[1]; 0; −2 p[0] dp[0]]\nJ = [−e₁ᵀ; 0; −2 p[0] e₀ᵀ]");

/// The LaTeX that the docs typeset: ASCII only (KaTeX in strict mode warns on Unicode in math),
/// and for the cases above the same formula as the text.
#[test]
fn latex_of_the_textbook_cases() {
    let mut all = Vec::new();
    for (attr, src) in [
        ("wrt = (w, b)", SOFTMAX),
        ("wrt = k", GAUSSIAN_NLL),
        ("wrt = (w1, w2)", TWO_LAYER),
        ("wrt = w", HUBER),
    ] {
        let d = crate::derive(attr.parse().unwrap(), src.parse().unwrap())
            .unwrap_or_else(|f| panic!("{}", f.0));
        let names = d.variable_names();
        for (v, g) in names.iter().zip(&d.gradient().expect("a gradient").nodes) {
            let g = g.expect("a gradient");
            let lines = crate::pretty::formula_latex(&d.body.graph, g, &names, &format!("∂f/∂{v}"))
                .expect("a formula");
            all.extend(lines);
        }
    }
    for l in &all {
        assert!(l.is_ascii(), "{l}");
    }
    assert_eq!(
        all[0],
        r"\frac{\partial f}{\partial w} = \frac{1}{n}\,{x}^{\top}\,\left(\operatorname{diag}\left(\mathbf{1} \oslash \left(\exp\left(z\right)\,\mathbf{1}\right)\right)\,\exp\left(z\right) - y\right)"
    );
    assert_eq!(all[1], r"\text{where } z = x\,w + \mathbf{1}\,{b}^{\top}");
}

/// The generated docs: the formula as text and typeset, the derivation folded, and the
/// derivation constant, for a gradient and a Jacobian.
#[test]
fn docs_show_text_typeset_and_derivation() {
    let gradient = crate::expand_gradient(
        "wrt = (w1, w2)".parse().unwrap(),
        TWO_LAYER.parse().unwrap(),
    )
    .to_string();
    let jacobian =
        crate::expand_jacobian("wrt = p".parse().unwrap(), LAYER_JACOBIAN.parse().unwrap())
            .to_string();
    for (out, constant) in [
        (&gradient, "TWO_LAYER_DERIVATION"),
        (&jacobian, "LAYER_DERIVATION"),
    ] {
        for part in [
            "```text",
            "class=\\\"matgrad-tex\\\"",
            "<details><summary>How this is derived",
            constant,
        ] {
            assert!(out.contains(part), "{part} in {out}");
        }
    }
    // The variable's own name in the Jacobian's layout.
    assert!(
        jacobian.contains("one column per entry of vec(p)"),
        "{jacobian}"
    );
    assert!(!jacobian.contains("vec(x)"), "{jacobian}");
}
