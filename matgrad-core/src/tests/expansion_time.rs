//! The identity suite (the `#[gradient]` and `#[jacobian]` functions of the integration tests that
//! expand on their own: the seed examples, the Matrix Cookbook suite, the type, edge and
//! second-order tests, loops, branches, iterators, structure, factorisations) as data:
//! expanded twice to check determinism, and repeatedly to time the macro
//! (`cargo test -p matgrad-core --release expansion_time -- --ignored --nocapture`).

use std::time::Instant;

use proc_macro2::TokenStream;

/// Every annotated function of the integration tests: (which attribute, its arguments, the item).
fn identity_suite() -> Vec<(crate::attr::Macro, TokenStream, TokenStream)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/it/");
    let mut functions = Vec::new();
    let files = [
        "seeds.rs",
        "cookbook.rs",
        "types.rs",
        "edges.rs",
        "second.rs",
        "jacobians.rs",
        "smoke.rs",
        "loops.rs",
        "branches.rs",
        "iterators.rs",
        "structure.rs",
        "factor.rs",
        "kernels.rs",
    ];
    // (collected as the snapshot collects them)
    for file in files {
        let src = std::fs::read_to_string(format!("{root}{file}")).expect("test file");
        let parsed = syn::parse_file(&src).expect("test file parses");
        let mut found = super::snapshot::Annotated::default();
        syn::visit::Visit::visit_file(&mut found, &parsed);
        functions.extend(found.found);
    }
    functions
}

fn expand(kind: crate::attr::Macro, attr: &TokenStream, item: &TokenStream) -> TokenStream {
    match kind {
        crate::attr::Macro::Gradient => crate::expand_gradient(attr.clone(), item.clone()),
        crate::attr::Macro::Jacobian => crate::expand_jacobian(attr.clone(), item.clone()),
    }
}

#[test]
fn the_identity_suite_expands_deterministically() {
    let suite = identity_suite();
    assert!(suite.len() > 100, "{} functions", suite.len());
    let first: Vec<String> = suite
        .iter()
        .map(|(k, a, i)| expand(*k, a, i).to_string())
        .collect();
    // Again, in reverse order, so that nothing carried between expansions could hide.
    for (n, (k, a, i)) in suite.iter().enumerate().rev() {
        let again = expand(*k, a, i).to_string();
        assert_eq!(again, first[n], "expansion {n} differs between runs");
        assert!(
            !again.contains("compile_error"),
            "expansion {n} has errors: {again}"
        );
    }
}

#[test]
#[ignore = "a measurement, not a check: run it with --ignored --nocapture"]
fn expansion_time() {
    let functions: Vec<(String, TokenStream, TokenStream)> = identity_suite()
        .into_iter()
        .filter(|(k, _, _)| *k == crate::attr::Macro::Gradient)
        .map(|(_, a, i)| (function_name(&i), a, i))
        .collect();
    let mut times: Vec<(f64, &str)> = functions
        .iter()
        .map(|(name, attr, item)| {
            let runs = 20;
            let start = Instant::now();
            for _ in 0..runs {
                std::hint::black_box(crate::expand_gradient(attr.clone(), item.clone()));
            }
            (start.elapsed().as_secs_f64() / runs as f64, name.as_str())
        })
        .collect();
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    let micros = |seconds: f64| seconds * 1e6;
    println!(
        "expanded {} functions: median {:.0} µs, 90th percentile {:.0} µs, max {:.0} µs per function",
        times.len(),
        micros(times[times.len() / 2].0),
        micros(times[times.len() * 9 / 10].0),
        micros(times[times.len() - 1].0),
    );
    // The slowest functions are where to look next.
    let slowest: Vec<String> = times
        .iter()
        .rev()
        .take(5)
        .map(|(t, name)| format!("{name} {:.0} µs", micros(*t)))
        .collect();
    println!("slowest: {}", slowest.join(", "));
}

/// The name of an annotated function, from its tokens (its identifier follows `fn`).
fn function_name(item: &TokenStream) -> String {
    syn::parse2::<syn::ItemFn>(item.clone())
        .map(|f| f.sig.ident.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A loop's derivative is derived once from its body: the trip count (here a literal) does not
/// change what is built or emitted.
#[test]
fn expansion_does_not_grow_with_the_trip_count() {
    let item = |n: usize| -> proc_macro2::TokenStream {
        let n = proc_macro2::Literal::usize_unsuffixed(n);
        quote::quote! {
            fn f(w: &DMatrix<f64>, h0: &DVector<f64>) -> f64 {
                let mut h = h0.clone();
                for _ in 0..#n {
                    h = (w * &h).map(|v| v.tanh());
                }
                h.norm_squared()
            }
        }
    };
    let attr = quote::quote!(wrt = w, hessian);
    let small = crate::expand_gradient(attr.clone(), item(10)).to_string();
    let large = crate::expand_gradient(attr, item(1_000_000)).to_string();
    // The same code but for the copied bound.
    let copies = small.matches("0 .. 10 ").count();
    assert!(copies > 0);
    assert_eq!(small.replace("0 .. 10 ", "0 .. 1000000 "), large);
    assert!(small.len() < 200_000, "{} bytes", small.len());
}
