//! The prelude of a generated function: aliases of the parameters, the body's constant
//! statements and the constant expressions, each bound only if the emitted code reads it.

use std::collections::BTreeSet;

use proc_macro2::{TokenStream, TokenTree};
use quote::{format_ident, quote};

use super::Emitter;

impl Emitter<'_> {
    /// The aliases of the parameters, the constant statements and the constant expressions
    /// that `code` refers to.
    pub fn prelude(&self, code: &TokenStream) -> TokenStream {
        let mut out = TokenStream::new();
        for (i, p) in self.f.params.iter().enumerate() {
            let Some(name) = &p.name else { continue };
            let alias = format_ident!("__mg_p{}", i);
            if p.info.by_ref {
                out.extend(quote!(let #alias = #name;));
            } else {
                out.extend(quote!(let #alias = &#name;));
            }
        }
        // A statement matgrad replaced by a node (a vector of ones) is kept only if the code
        // that is emitted still names it: then every name the code mentions is needed.
        let optional = self.body.stmts.iter().any(|s| s.optional.is_some());
        let mut names = BTreeSet::new();
        if optional {
            collect_idents(code, &mut names);
        }
        // Constant expressions are bound only if something reads them (directly or through
        // another constant expression), so that nothing the function does not need is computed.
        // (Reading the code is a walk over all of it: done once, and only where it is needed.)
        let mut used = BTreeSet::new();
        let opaque = &self.g.opaque;
        if optional {
            let aliases = names.iter().filter(|n| n.starts_with("__mg_o"));
            used.extend(aliases.cloned());
        } else if !opaque.is_empty() {
            collect_aliases(code, &mut used);
        }
        for k in (0..opaque.len()).rev() {
            // A loop's constants are bound in its iterations (`loops.rs`).
            if opaque[k].scope.is_none() && used.contains(&opaque[k].alias.to_string()) {
                collect_aliases(&opaque[k].code, &mut used);
            }
        }
        // And the names that the statements kept and the constant expressions bound read.
        if optional {
            for stmt in self.body.stmts.iter().filter(|s| s.optional.is_none()) {
                collect_idents(&stmt.tokens, &mut names);
            }
            for leaf in opaque
                .iter()
                .filter(|l| used.contains(&l.alias.to_string()))
            {
                collect_idents(&leaf.code, &mut names);
            }
        }
        for stmt in &self.body.stmts {
            if stmt.optional.as_ref().is_some_and(|n| !names.contains(n)) {
                continue;
            }
            out.extend(stmt.tokens.clone());
            if let Some((alias, name)) = &stmt.alias {
                if stmt.by_ref {
                    out.extend(quote!(let #alias = #name;));
                } else {
                    out.extend(quote!(let #alias = &#name;));
                }
            }
        }
        for leaf in opaque {
            if leaf.scope.is_none() && used.contains(&leaf.alias.to_string()) {
                let (alias, code) = (&leaf.alias, &leaf.code);
                out.extend(quote!(let #alias = &(#code);));
            }
        }
        out
    }
}

pub(super) fn collect_idents(ts: &TokenStream, out: &mut BTreeSet<String>) {
    for tt in ts.clone() {
        match tt {
            TokenTree::Ident(i) => {
                out.insert(i.to_string());
            }
            TokenTree::Group(g) => collect_idents(&g.stream(), out),
            _ => {}
        }
    }
}

fn collect_aliases(ts: &TokenStream, out: &mut BTreeSet<String>) {
    for tt in ts.clone() {
        match tt {
            TokenTree::Ident(i) => {
                let s = i.to_string();
                if s.starts_with("__mg_o") {
                    out.insert(s);
                }
            }
            TokenTree::Group(g) => collect_aliases(&g.stream(), out),
            _ => {}
        }
    }
}
