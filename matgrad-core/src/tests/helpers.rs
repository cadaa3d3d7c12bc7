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
