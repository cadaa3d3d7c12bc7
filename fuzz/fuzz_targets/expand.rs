//! `#[gradient(<attr>)] <item>` for arbitrary text: the first line is the attribute's tokens,
//! the rest the item's. The expansion must not panic, and when the item is a sequence of items
//! its output must parse as a Rust file (compile errors, the function and the generated items)
//! and must not report an internal error. The same property, seeded and bounded, is the stable
//! test `malformed_inputs_never_panic` in matgrad-core/src/tests/robust.rs.

#![no_main]

use libfuzzer_sys::fuzz_target;
use proc_macro2::TokenStream;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (attr, item) = text.split_once('\n').unwrap_or(("wrt = x", text));
    // rustc hands a macro only tokens that lex.
    let (Ok(attr), Ok(item)) = (attr.parse::<TokenStream>(), item.parse::<TokenStream>()) else {
        return;
    };
    // An item that starts with `#![..]` cannot be followed by anything (nor follow the compile
    // errors); rustc never hands a macro such an item.
    let item_is_items = syn::parse2::<syn::File>(item.clone()).is_ok_and(|f| f.attrs.is_empty());
    let out = matgrad_core::expand_gradient(attr, item);
    if !item_is_items {
        return;
    }
    if let Err(e) = syn::parse2::<syn::File>(out.clone()) {
        panic!("the expansion does not parse as a file: {e}\n{out}");
    }
    let text = out.to_string();
    assert!(
        !text.contains("internal error"),
        "the expansion reports an internal error:\n{text}"
    );
});
