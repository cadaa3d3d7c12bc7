//! How long the macro takes: every `#[gradient]` function of the integration tests (the seed
//! examples and the Matrix Cookbook suite) expanded repeatedly, median time per function.
//! Run with `cargo test -p matgrad-core --release expansion_time -- --ignored --nocapture`.

use std::time::Instant;

use proc_macro2::TokenStream;
use quote::ToTokens;

#[test]
#[ignore = "a measurement, not a check: run it with --ignored --nocapture"]
fn expansion_time() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/it/");
    let mut functions: Vec<(TokenStream, TokenStream)> = Vec::new();
    for file in ["seeds.rs", "cookbook.rs", "types.rs", "edges.rs"] {
        let src = std::fs::read_to_string(format!("{root}{file}")).expect("test file");
        let parsed = syn::parse_file(&src).expect("test file parses");
        for item in parsed.items {
            if let syn::Item::Fn(mut f) = item {
                if let Some(pos) = f.attrs.iter().position(|a| a.path().is_ident("gradient")) {
                    let attr = f.attrs.remove(pos);
                    let args = match attr.meta {
                        syn::Meta::List(l) => l.tokens,
                        _ => TokenStream::new(),
                    };
                    functions.push((args, f.to_token_stream()));
                }
            }
        }
    }
    let mut times: Vec<f64> = functions
        .iter()
        .map(|(attr, item)| {
            let runs = 20;
            let start = Instant::now();
            for _ in 0..runs {
                std::hint::black_box(crate::expand_gradient(attr.clone(), item.clone()));
            }
            start.elapsed().as_secs_f64() / runs as f64
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    let median = times[times.len() / 2];
    let max = times[times.len() - 1];
    println!(
        "expanded {} functions: median {:.0} µs, 90th percentile {:.0} µs, max {:.0} µs per function",
        times.len(),
        median * 1e6,
        times[times.len() * 9 / 10] * 1e6,
        max * 1e6
    );
}
