//! Issue 8: what `minimize`, `argmin = ..` and `least_squares = ..` expand to, read as tokens.

use proc_macro2::TokenStream;

fn gradient(attr: &str, item: &str) -> String {
    crate::expand_gradient(attr.parse().unwrap(), item.parse().unwrap()).to_string()
}

fn jacobian(attr: &str, item: &str) -> String {
    crate::expand_jacobian(attr.parse().unwrap(), item.parse().unwrap()).to_string()
}

const RIDGE: &str = "fn ridge(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>, lambda: f64) -> f64 { (x * w - y).norm_squared() + lambda * w.norm_squared() }";

#[test]
fn minimize_documents_the_normal_equations() {
    let out = gradient("wrt = w, minimize", RIDGE);
    assert!(!out.contains("compile_error"), "{out}");
    for text in [
        "∇f(w) = 2 lambda w + 2 xᵀ(x w − y) = 0",
        "∇²f = 2 lambda I + 2 xᵀ x   (constant: f is quadratic in w)",
        "⇒ (2 lambda I + 2 xᵀ x) w = −∇f(0)",
    ] {
        assert!(out.contains(text), "the doc lacks {text:?}:\n{out}");
    }
    // `minimize` brings `_hessian` with it, and the solve never inverts.
    assert!(out.contains("fn ridge_hessian"));
    assert!(out.contains("fn try_ridge_argmin"));
    assert!(!out.contains("try_inverse"));
}

#[test]
fn minimize_on_a_non_quadratic_objective_says_why() {
    let out = gradient(
        "wrt = w, minimize",
        "fn poisson(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 { let z = x * w; z.map(|v| v.exp()).sum() - y.dot(&z) }",
    );
    assert!(
        out.contains("its Hessian depends on `w` (H v = xᵀ(exp(x w) ⊙ (x v)))"),
        "{out}"
    );
    // Stand-ins keep callers compiling; the gradient is still generated.
    assert!(out.contains("fn poisson_argmin"));
    assert!(out.contains("fn poisson_grad"));
}

#[test]
fn adapters_are_behind_the_feature_macros() {
    let out = gradient("wrt = w, hessian, argmin = Fit", RIDGE);
    assert!(
        out.contains(":: matgrad :: __private :: with_argmin !"),
        "{out}"
    );
    for item in [
        "CostFunction for Fit",
        "Gradient for Fit",
        "Hessian for Fit",
        "ArgminInv < FitHessian > for FitHessian",
    ] {
        assert!(out.contains(item), "no `{item}`");
    }
    let out = jacobian(
        "wrt = p, least_squares = ExpFit, argmin = ExpOp",
        "fn r(p: &Vector2<f64>, t: &DVector<f64>, y: &DVector<f64>) -> DVector<f64> { (t * -p[1]).map(|v| v.exp()) * p[0] - y }",
    );
    assert!(out.contains(":: matgrad :: __private :: with_levenberg_marquardt !"));
    assert!(out.contains("LeastSquaresProblem < f64 , :: matgrad :: nalgebra :: Dyn , :: matgrad :: nalgebra :: Const < 2usize > > for ExpFit"), "{out}");
    assert!(out.contains("Operator for ExpOp") && out.contains("Jacobian for ExpOp"));
}

#[test]
fn adapters_reject_what_a_struct_cannot_hold() {
    let errors = |out: String| -> Vec<String> {
        let ts: TokenStream = out.parse().unwrap();
        let mut found = Vec::new();
        let mut tokens = ts.into_iter().peekable();
        while let Some(tt) = tokens.next() {
            if tt.to_string() == "compile_error" {
                found.push(tokens.nth(1).map(|g| g.to_string()).unwrap_or_default());
            }
        }
        found
    };
    let generic = errors(gradient(
        "wrt = w, argmin = Fit",
        "fn f<T: RealField + Copy>(w: &DVector<T>) -> T { w.norm_squared() }",
    ));
    assert!(
        generic.iter().any(|e| e.contains("cannot be generic")),
        "{generic:?}"
    );
    let layout = errors(jacobian(
        "wrt = p, layout = denominator, least_squares = Fit",
        "fn r(p: &DVector<f64>, y: &DVector<f64>) -> DVector<f64> { p - y }",
    ));
    assert!(
        layout.iter().any(|e| e.contains("remove `layout = ..`")),
        "{layout:?}"
    );
    let matrix = errors(jacobian(
        "wrt = p, least_squares = Fit",
        "fn r(p: &DMatrix<f64>, y: &DMatrix<f64>) -> DMatrix<f64> { p - y }",
    ));
    assert!(
        matrix
            .iter()
            .any(|e| e.contains("residuals as a column vector")),
        "{matrix:?}"
    );
}

#[test]
fn a_body_that_fails_still_gets_every_item_its_options_add() {
    // The spanned error, and stand-ins for what a crate might already call: the adapter
    // structs (calling the stand-ins), `_hvp`, `_hessian`, `_argmin`, the `try_` Jacobians.
    let body = "fn fit(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 { (x * w - y).norm() + w.amax() }";
    let attr: TokenStream = "wrt = w, hessian, minimize, argmin = Fit".parse().unwrap();
    let out = crate::expand_gradient(attr, body.parse().unwrap()).to_string();
    for item in [
        "compile_error",
        "struct Fit",
        "fn fit_hvp",
        "fn fit_hessian",
        "fn fit_argmin",
        "fn try_fit_value_and_grad",
    ] {
        assert!(out.contains(item), "{item} missing from {out}");
    }
    let body = "fn decay(p: &DVector<f64>, t: &DVector<f64>) -> DVector<f64> { t * p.amax() }";
    let attr: TokenStream = "wrt = p, least_squares = Decay".parse().unwrap();
    let out = crate::expand_jacobian(attr, body.parse().unwrap()).to_string();
    for item in [
        "compile_error",
        "struct Decay",
        "fn try_decay_value_and_jacobian",
        "fn decay_jacobian",
    ] {
        assert!(out.contains(item), "{item} missing from {out}");
    }
}
