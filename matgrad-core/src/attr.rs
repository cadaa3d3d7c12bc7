//! The attributes: `#[gradient(wrt = x, hessian)]` and `#[jacobian(wrt = x, layout = ..)]`.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Meta, Token};

use crate::ctxt::Ctxt;

/// The option names, in one place.
pub const WRT: &str = "wrt";
pub const HESSIAN: &str = "hessian";
pub const LAYOUT: &str = "layout";

/// Which attribute is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Macro {
    Gradient,
    Jacobian,
}

impl Macro {
    pub fn name(self) -> &'static str {
        match self {
            Macro::Gradient => "gradient",
            Macro::Jacobian => "jacobian",
        }
    }

    fn usage(self) -> String {
        let m = self.name();
        format!("write `#[{m}(wrt = x)]`, or `#[{m}(wrt = (x, y))]` for several variables")
    }

    fn options(self) -> &'static str {
        match self {
            Macro::Gradient => "`wrt = x` (or `wrt = (x, y)`) and `hessian`",
            Macro::Jacobian => {
                "`wrt = x` (or `wrt = (x, y)`) and `layout = numerator | denominator | blocks`"
            }
        }
    }
}

/// How a Jacobian is laid out (seeds 003 and 004).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Rows are the entries of vec(F), columns the entries of vec(X): m×n for m residuals and
    /// n parameters (what least-squares solvers use).
    #[default]
    Numerator,
    /// The transpose: seed 003's convention.
    Denominator,
    /// Seed 004's block matrix: for F p×q and X m×n, the pm×qn matrix whose (i, j) block is
    /// ∂F_ij/∂X.
    Blocks,
}

/// What the attribute asks for.
#[derive(Debug, Clone)]
pub struct Options {
    pub kind: Macro,
    /// The variables, in the order the gradient tuple returns them.
    pub wrt: Vec<Ident>,
    /// `hessian`: also generate `_hvp` and `_hessian`.
    pub hessian: Option<Span>,
    pub layout: Layout,
    pub layout_span: Option<Span>,
}

/// Read the attribute's tokens. Problems are reported in `cx`; `None` if no variable could be read.
pub fn parse(kind: Macro, attr: TokenStream, cx: &mut Ctxt) -> Option<Options> {
    let m = kind.name();
    let usage = kind.usage();
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr.clone()) {
        Ok(metas) => metas,
        Err(e) => {
            cx.push(syn::Error::new(
                e.span(),
                format!("malformed #[{m}] attribute: {usage}"),
            ));
            return None;
        }
    };
    let mut wrt: Option<Vec<Ident>> = None;
    let mut seen_wrt = false;
    let mut options = Options {
        kind,
        wrt: Vec::new(),
        hessian: None,
        layout: Layout::default(),
        layout_span: None,
    };
    for meta in &metas {
        let name = meta
            .path()
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        let duplicate =
            |cx: &mut Ctxt| cx.error_spanned_by(meta, format!("duplicate #[{m}] option `{name}`"));
        match (name.as_str(), meta) {
            (WRT, Meta::NameValue(nv)) => {
                if seen_wrt {
                    cx.error_spanned_by(
                        meta,
                        format!("duplicate #[{m}] option `wrt`: list all variables in one `wrt = (x, y)`"),
                    );
                    continue;
                }
                seen_wrt = true;
                wrt = variables(&nv.value, kind, cx);
            }
            (WRT, _) => {
                seen_wrt = true;
                cx.error_spanned_by(meta, format!("`wrt` needs the variables: {usage}"));
            }
            (HESSIAN, Meta::Path(p)) if kind == Macro::Gradient => {
                if options.hessian.is_some() {
                    duplicate(cx);
                }
                options.hessian = Some(p.span());
            }
            (HESSIAN, _) if kind == Macro::Jacobian => cx.error_spanned_by(
                meta,
                "`hessian` applies to `#[gradient]` of a scalar function; for the Hessian of a scalar function use `#[gradient(wrt = x, hessian)]`",
            ),
            (HESSIAN, _) => cx.error_spanned_by(meta, "`hessian` takes no value: write `#[gradient(wrt = x, hessian)]`"),
            (LAYOUT, Meta::NameValue(nv)) if kind == Macro::Jacobian => {
                if options.layout_span.is_some() {
                    duplicate(cx);
                }
                options.layout_span = Some(nv.value.span());
                let value = match &nv.value {
                    Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
                    _ => None,
                };
                options.layout = match value.as_deref() {
                    Some("numerator") => Layout::Numerator,
                    Some("denominator") => Layout::Denominator,
                    Some("blocks") => Layout::Blocks,
                    _ => {
                        cx.error_spanned_by(&nv.value, "unknown layout: the layouts are `numerator` (the default: rows are the entries of vec(F)), `denominator` (its transpose) and `blocks` (seed 004's block matrix)");
                        Layout::default()
                    }
                };
            }
            (LAYOUT, _) if kind == Macro::Gradient => cx.error_spanned_by(
                meta,
                "`layout` applies to `#[jacobian]`: a gradient always has the shape of its variable",
            ),
            (LAYOUT, _) => cx.error_spanned_by(meta, "write `layout = numerator`, `layout = denominator` or `layout = blocks`"),
            _ => cx.error_spanned_by(
                meta.path(),
                format!("unknown #[{m}] option `{}`: the options are {}", crate::pretty::source_text(&quote::quote!(#meta)), kind.options()),
            ),
        }
    }
    match wrt {
        Some(vars) => {
            options.wrt = vars;
            Some(options)
        }
        None => {
            if !seen_wrt {
                let span = if attr.is_empty() {
                    Span::call_site()
                } else {
                    attr.span()
                };
                cx.error_at(
                    span,
                    format!("#[{m}] needs the variable to differentiate with respect to: {usage}"),
                );
            }
            None
        }
    }
}

/// `x` or `(x, y, ..)`.
fn variables(value: &Expr, kind: Macro, cx: &mut Ctxt) -> Option<Vec<Ident>> {
    let usage = kind.usage();
    let items: Vec<&Expr> = match value {
        Expr::Tuple(t) => t.elems.iter().collect(),
        Expr::Paren(p) => vec![&*p.expr],
        other => vec![other],
    };
    if items.is_empty() {
        cx.error_spanned_by(value, format!("`wrt` names no variable: {usage}"));
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
                    format!("expected a parameter name in `wrt`: {usage}"),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}
