//! A snapshot of every expansion in the repository: each `#[gradient]`/`#[jacobian]` function of
//! the integration tests, UI cases, examples, benches and `integrations/`, expanded by the engine
//! and written to one file. Refactorings of the engine must leave it unchanged:
//!
//! ```sh
//! MATGRAD_SNAPSHOT=/tmp/before.txt cargo test -p matgrad-core snapshot -- --ignored
//! # ... change the engine ...
//! MATGRAD_SNAPSHOT=/tmp/after.txt cargo test -p matgrad-core snapshot -- --ignored
//! diff /tmp/before.txt /tmp/after.txt
//! ```

use std::path::{Path, PathBuf};

use quote::ToTokens;
use syn::visit::Visit;

use crate::attr::Macro;

/// The annotated functions of one file, with the attribute that marks each.
#[derive(Default)]
pub(super) struct Annotated {
    pub(super) found: Vec<(Macro, proc_macro2::TokenStream, proc_macro2::TokenStream)>,
}

impl Annotated {
    fn take(&mut self, attrs: &[syn::Attribute], item: proc_macro2::TokenStream) {
        for a in attrs {
            let name = a.path().segments.last().map(|s| s.ident.to_string());
            let kind = match name.as_deref() {
                Some("gradient") => Macro::Gradient,
                Some("jacobian") => Macro::Jacobian,
                _ => continue,
            };
            let args = match &a.meta {
                syn::Meta::List(l) => l.tokens.clone(),
                _ => proc_macro2::TokenStream::new(),
            };
            self.found.push((kind, args, item.clone()));
        }
    }
}

/// The item without its matgrad attribute, as the macro receives it.
fn without_attr<T: ToTokens + Clone>(
    item: &T,
    attrs: impl Fn(&mut T) -> &mut Vec<syn::Attribute>,
) -> proc_macro2::TokenStream {
    let mut item = item.clone();
    attrs(&mut item).retain(|a| {
        let name = a.path().segments.last().map(|s| s.ident.to_string());
        !matches!(name.as_deref(), Some("gradient" | "jacobian"))
    });
    item.into_token_stream()
}

impl<'ast> Visit<'ast> for Annotated {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        let item = without_attr(f, |f| &mut f.attrs);
        self.take(&f.attrs, item);
        syn::visit::visit_item_fn(self, f);
    }
    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        let item = without_attr(f, |f| &mut f.attrs);
        self.take(&f.attrs, item);
        syn::visit::visit_impl_item_fn(self, f);
    }
}

pub(super) fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if !p.ends_with("target") {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
#[ignore = "writes a snapshot file; run by hand around engine refactorings"]
fn snapshot() {
    let out =
        std::env::var("MATGRAD_SNAPSHOT").unwrap_or_else(|_| "/tmp/matgrad-snapshot.txt".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in ["tests", "examples", "benches", "integrations", "src"] {
        rust_files(&root.join(dir), &mut files);
    }
    let mut text = String::new();
    let mut count = 0;
    for path in files {
        let Ok(src) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(file) = syn::parse_file(&src) else {
            continue;
        };
        let mut found = Annotated::default();
        found.visit_file(&file);
        for (kind, attr, item) in found.found {
            let expanded = match kind {
                Macro::Gradient => crate::expand_gradient(attr.clone(), item),
                Macro::Jacobian => crate::expand_jacobian(attr.clone(), item),
            };
            let rel = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .display()
                .to_string();
            text.push_str(&format!(
                "==== {rel} #[{}({attr})]\n{expanded}\n\n",
                kind.name()
            ));
            count += 1;
        }
    }
    std::fs::write(&out, text).expect("write the snapshot");
    eprintln!("{count} expansions written to {out}");
    assert!(count > 100, "found only {count} annotated functions");
}
