//! The attribute: `#[gradient(wrt = x)]` or `#[gradient(wrt = (x, y))]`.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Meta, Token};

use crate::ctxt::Ctxt;

/// The option names, in one place.
pub const WRT: &str = "wrt";

/// What the attribute asks for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The variables, in the order the gradient tuple returns them.
    pub wrt: Vec<Ident>,
}

const USAGE: &str =
    "write `#[gradient(wrt = x)]`, or `#[gradient(wrt = (x, y))]` for several variables";

/// Read the attribute's tokens. Problems are reported in `cx`; `None` if no variable could be read.
pub fn parse(attr: TokenStream, cx: &mut Ctxt) -> Option<Options> {
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr.clone()) {
        Ok(m) => m,
        Err(e) => {
            cx.push(syn::Error::new(
                e.span(),
                format!("malformed #[gradient] attribute: {USAGE}"),
            ));
            return None;
        }
    };
    let mut wrt: Option<(Vec<Ident>, Span)> = None;
    for meta in &metas {
        let name = meta
            .path()
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        if name != WRT {
            cx.error_spanned_by(
                meta.path(),
                format!(
                    "unknown #[gradient] option `{}`: the options are `wrt = x` and `wrt = (x, y)`",
                    quote::quote!(#meta)
                ),
            );
            continue;
        }
        let Meta::NameValue(nv) = meta else {
            cx.error_spanned_by(meta, format!("`wrt` needs the variables: {USAGE}"));
            continue;
        };
        if let Some((_, _)) = &wrt {
            cx.error_spanned_by(
                meta,
                "duplicate #[gradient] option `wrt`: list all variables in one `wrt = (x, y)`",
            );
            continue;
        }
        if let Some(vars) = variables(&nv.value, cx) {
            wrt = Some((vars, Span::call_site()));
        }
    }
    match wrt {
        Some((vars, _)) => Some(Options { wrt: vars }),
        None => {
            if !cx.has_errors() {
                let span = if attr.is_empty() {
                    Span::call_site()
                } else {
                    syn::spanned::Spanned::span(&attr)
                };
                cx.error_at(
                    span,
                    format!(
                        "#[gradient] needs the variable to differentiate with respect to: {USAGE}"
                    ),
                );
            }
            None
        }
    }
}

/// `x` or `(x, y, ..)`.
fn variables(value: &Expr, cx: &mut Ctxt) -> Option<Vec<Ident>> {
    let items: Vec<&Expr> = match value {
        Expr::Tuple(t) => t.elems.iter().collect(),
        Expr::Paren(p) => vec![&*p.expr],
        other => vec![other],
    };
    if items.is_empty() {
        cx.error_spanned_by(value, format!("`wrt` names no variable: {USAGE}"));
        return None;
    }
    let mut out: Vec<Ident> = Vec::new();
    let mut ok = true;
    for item in items {
        match item {
            Expr::Path(p) if p.qself.is_none() && p.path.get_ident().is_some() => {
                let id = p
                    .path
                    .get_ident()
                    .cloned()
                    .unwrap_or_else(|| Ident::new("_", Span::call_site()));
                if out.contains(&id) {
                    cx.error_spanned_by(&id, format!("`{id}` is listed twice in `wrt`"));
                    ok = false;
                } else {
                    out.push(id);
                }
            }
            other => {
                cx.error_spanned_by(
                    other,
                    format!("expected a parameter name in `wrt`: {USAGE}"),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}
