//! The attributes: `#[gradient(wrt = x, hessian, minimize, argmin = Name)]` and
//! `#[jacobian(wrt = x, layout = .., argmin = Name, least_squares = Name)]`.

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
pub const MINIMIZE: &str = "minimize";
pub const ARGMIN: &str = "argmin";
pub const LEAST_SQUARES: &str = "least_squares";
pub const CHECKPOINT: &str = "checkpoint";

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

    /// The options this attribute takes, by name.
    fn option_names(self) -> &'static [&'static str] {
        match self {
            Macro::Gradient => &[WRT, HESSIAN, MINIMIZE, ARGMIN, CHECKPOINT],
            Macro::Jacobian => &[WRT, LAYOUT, ARGMIN, LEAST_SQUARES],
        }
    }

    fn options(self) -> &'static str {
        match self {
            Macro::Gradient => "`wrt = x` (or `wrt = (x, y)`), `hessian`, `minimize`, `argmin = Name` and `checkpoint`",
            Macro::Jacobian => {
                "`wrt = x` (or `wrt = (x, y)`), `layout = numerator | denominator | blocks`, `argmin = Name` and `least_squares = Name`"
            }
        }
    }
}

/// How a Jacobian is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Rows are the entries of vec(F), columns the entries of vec(X): m×n for m residuals and
    /// n parameters (what least-squares solvers use).
    #[default]
    Numerator,
    /// Denominator layout, the transpose: rows are the entries of vec(X), columns those of
    /// vec(F).
    Denominator,
    /// Block layout: for F p×q and X m×n, the pm×qn matrix whose (i, j) block is ∂F_ij/∂X.
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
    /// `checkpoint`: loops keep about √n states and recompute the rest for the backward pass,
    /// instead of a tape of every iteration.
    pub checkpoint: Option<Span>,
    pub layout: Layout,
    pub layout_span: Option<Span>,
    /// `minimize`: also generate `<name>_argmin`, the closed-form minimiser of a quadratic.
    pub minimize: Option<Span>,
    /// `argmin = Name`: a struct implementing argmin's problem traits.
    pub argmin: Option<Adapter>,
    /// `argmin` without a name, on a method: argmin's traits implemented for the method's type
    /// by `#[matgrad::model]` on its `impl` block.
    pub argmin_self: Option<Span>,
    /// `least_squares = Name`: a struct implementing levenberg-marquardt's `LeastSquaresProblem`.
    pub least_squares: Option<Adapter>,
}

/// A solver adapter the attribute asks for: `argmin = LinearFit`.
#[derive(Debug, Clone)]
pub struct Adapter {
    /// The option's name (`argmin`), where a missing cargo feature is reported.
    pub option: Span,
    /// The struct to generate.
    pub name: Ident,
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
        checkpoint: None,
        layout: Layout::default(),
        layout_span: None,
        minimize: None,
        argmin: None,
        argmin_self: None,
        least_squares: None,
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
            (CHECKPOINT, Meta::Path(p)) if kind == Macro::Gradient => {
                if options.checkpoint.is_some() {
                    duplicate(cx);
                }
                options.checkpoint = Some(p.span());
            }
            (CHECKPOINT, _) if kind == Macro::Jacobian => cx.error_spanned_by(
                meta,
                "`checkpoint` applies to `#[gradient]`: it trades the memory of the reverse pass through loops for recomputation, and a Jacobian's sweeps through a loop run forward",
            ),
            (CHECKPOINT, _) => cx.error_spanned_by(meta, "`checkpoint` takes no value: write `#[gradient(wrt = w, checkpoint)]`"),
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
                        let hint = value
                            .as_deref()
                            .and_then(|v| nearest(v, &["numerator", "denominator", "blocks"]))
                            .map(|s| format!("did you mean `{s}`? The layouts"))
                            .unwrap_or_else(|| "the layouts".into());
                        cx.error_spanned_by(
                            &nv.value,
                            format!("unknown layout: {hint} are `numerator` (the default: rows are the entries of vec(F), columns those of vec(X)), `denominator` (its transpose) and `blocks` (the (i, j) block is ∂F_ij/∂X); write e.g. `#[jacobian(wrt = x, layout = denominator)]`"),
                        );
                        Layout::default()
                    }
                };
            }
            (LAYOUT, _) if kind == Macro::Gradient => cx.error_spanned_by(
                meta,
                "`layout` applies to `#[jacobian]`: a gradient always has the shape of its variable",
            ),
            (LAYOUT, _) => cx.error_spanned_by(meta, "write `layout = numerator`, `layout = denominator` or `layout = blocks`"),
            (MINIMIZE, Meta::Path(p)) if kind == Macro::Gradient => {
                if options.minimize.is_some() {
                    duplicate(cx);
                }
                options.minimize = Some(p.span());
            }
            (MINIMIZE, _) if kind == Macro::Jacobian => cx.error_spanned_by(
                meta,
                "`minimize` applies to `#[gradient]` of a scalar objective; to fit residuals, use `#[jacobian(wrt = p, least_squares = Name)]`",
            ),
            (MINIMIZE, _) => cx.error_spanned_by(meta, "`minimize` takes no value: write `#[gradient(wrt = w, minimize)]`"),
            (ARGMIN, _) => {
                if options.argmin.is_some() || options.argmin_self.is_some() {
                    duplicate(cx);
                }
                if let (Meta::Path(_), Macro::Gradient) = (meta, kind) {
                    options.argmin_self = Some(meta.path().span());
                } else {
                    options.argmin = adapter(meta, kind, cx);
                }
            }
            (LEAST_SQUARES, _) if kind == Macro::Gradient => cx.error_spanned_by(
                meta,
                "`least_squares` applies to `#[jacobian]` of the residuals r(p), which levenberg-marquardt needs with their Jacobian: write `#[jacobian(wrt = p, least_squares = Name)]` on the function returning the residual vector",
            ),
            (LEAST_SQUARES, _) => {
                if options.least_squares.is_some() {
                    duplicate(cx);
                }
                options.least_squares = adapter(meta, kind, cx);
            }
            _ => {
                let suggestion = nearest(&name, kind.option_names());
                let msg = match suggestion {
                    Some(s) => format!(
                        "unknown #[{m}] option `{name}`: did you mean `{s}`? The options are {}",
                        kind.options()
                    ),
                    None => format!(
                        "unknown #[{m}] option `{}`: the options are {}",
                        crate::pretty::source_text(&quote::quote!(#meta)),
                        kind.options()
                    ),
                };
                cx.error_spanned_by(meta.path(), msg);
                // A misspelt `wrt = x` is read as `wrt` (its own mistakes are not reported): the
                // one error above is the whole story, not also "needs the variable", and the
                // generated functions' stand-ins get their parameters.
                if suggestion == Some(WRT) && !seen_wrt {
                    seen_wrt = true;
                    if let Meta::NameValue(nv) = meta {
                        let mut unreported = Ctxt::new();
                        wrt = variables(&nv.value, kind, &mut unreported);
                        // Deliberately dropped: the misspelling is the one error.
                        let _ = unreported.check();
                    }
                }
            }
        }
    }
    match wrt {
        Some(vars) => {
            if vars.len() > 1 {
                for a in options.argmin.iter().chain(&options.least_squares) {
                    cx.error_spanned_by(
                        &a.name,
                        format!("a solver adapter works on one variable, but `wrt` lists {}: the solvers take one parameter vector, so stack the variables into one (`wrt = p`)", vars.len()),
                    );
                }
            }
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

/// `argmin = Name` or `least_squares = Name`: the struct's name.
fn adapter(meta: &Meta, kind: Macro, cx: &mut Ctxt) -> Option<Adapter> {
    let m = kind.name();
    let option = meta.path().span();
    let option_name = meta
        .path()
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_default();
    let usage = format!("`{option_name}` names the struct to generate: write `#[{m}(wrt = p, {option_name} = Name)]`");
    let Meta::NameValue(nv) = meta else {
        cx.error_spanned_by(meta, usage);
        return None;
    };
    match &nv.value {
        Expr::Path(p) if p.qself.is_none() && p.path.get_ident().is_some() => {
            p.path.get_ident().map(|name| Adapter {
                option,
                name: name.clone(),
            })
        }
        other => {
            cx.error_spanned_by(other, format!("expected an identifier: {usage}"));
            None
        }
    }
}

/// The candidate nearest to a misspelt `word`, if it is near enough to be what was meant: at most
/// one edit for every three letters of the candidate (at least one), counting a swap of two
/// neighbouring letters as one edit and ignoring case.
fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_lowercase();
    if word.is_empty() {
        return None;
    }
    candidates
        .iter()
        .map(|&c| (edit_distance(&word, c), c))
        .filter(|&(d, c)| d <= (c.chars().count() / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// The optimal string alignment distance: insertions, deletions, substitutions and transpositions
/// of adjacent characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    // d[i][j]: the distance between the first i characters of a and the first j of b.
    let mut d: Vec<Vec<usize>> = (0..=n)
        .map(|i| {
            (0..=m)
                .map(|j| {
                    if i == 0 {
                        j
                    } else if j == 0 {
                        i
                    } else {
                        0
                    }
                })
                .collect()
        })
        .collect();
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[n][m]
}

#[cfg(test)]
mod suggestion_tests {
    use super::*;

    #[test]
    fn misspellings_find_the_option() {
        let g = Macro::Gradient.option_names();
        assert_eq!(nearest("wtr", g), Some(WRT));
        assert_eq!(nearest("WRT", g), Some(WRT));
        assert_eq!(nearest("hesian", g), Some(HESSIAN));
        assert_eq!(nearest("minimise", g), Some(MINIMIZE));
        assert_eq!(nearest("argmax", g), Some(ARGMIN));
        assert_eq!(nearest("order", g), None);
        assert_eq!(nearest("x", g), None);
        let j = Macro::Jacobian.option_names();
        assert_eq!(nearest("least_square", j), Some(LEAST_SQUARES));
        assert_eq!(nearest("layuot", j), Some(LAYOUT));
        assert_eq!(nearest("hessian", j), None);
        assert_eq!(
            nearest("block", &["numerator", "denominator", "blocks"]),
            Some("blocks")
        );
    }

    fn errors(kind: Macro, attr: TokenStream) -> (Option<Options>, Vec<String>) {
        let mut cx = Ctxt::new();
        let options = parse(kind, attr, &mut cx);
        let messages = match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        (options, messages)
    }

    #[test]
    fn a_misspelt_wrt_is_one_error_and_still_names_the_variables() {
        let (options, messages) = errors(Macro::Gradient, quote::quote!(wtr = (x, y)));
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].contains("did you mean `wrt`?"), "{messages:?}");
        let vars: Vec<String> = options.unwrap().wrt.iter().map(|v| v.to_string()).collect();
        assert_eq!(vars, ["x", "y"]);
    }

    #[test]
    fn an_unrelated_unknown_option_keeps_both_errors() {
        let (_, messages) = errors(Macro::Gradient, quote::quote!(order = 2));
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[1].contains("needs the variable"), "{messages:?}");
    }
}
