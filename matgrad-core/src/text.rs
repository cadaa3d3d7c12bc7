//! Rust source as text, for messages that quote the user's code: needs nothing but the tokens,
//! so that every phase (attributes, lowering, printing) can quote code without depending on another.

/// Rust source text, spaced the way people write it: `x.nrows() as f64`, not `x . nrows () as f64`.
pub fn source_text(ts: &proc_macro2::TokenStream) -> String {
    use proc_macro2::{Delimiter, TokenTree};
    let mut out = String::new();
    let mut prev_joint_punct = false;
    let mut prev: Option<String> = None;
    for tt in ts.clone() {
        let (s, is_punct, joint) = match &tt {
            TokenTree::Group(g) => {
                let inner = source_text(&g.stream());
                let s = match g.delimiter() {
                    Delimiter::Parenthesis => format!("({inner})"),
                    Delimiter::Bracket => format!("[{inner}]"),
                    Delimiter::Brace => format!("{{ {inner} }}"),
                    Delimiter::None => inner,
                };
                (s, false, false)
            }
            TokenTree::Punct(p) => (
                p.as_char().to_string(),
                true,
                p.spacing() == proc_macro2::Spacing::Joint,
            ),
            TokenTree::Ident(i) => (i.to_string(), false, false),
            TokenTree::Literal(l) => (l.to_string(), false, false),
        };
        let tight_before = matches!(s.as_str(), "." | "," | ";" | ":" | "?")
            || (s.starts_with('(') || s.starts_with('['))
                && prev.as_deref().is_some_and(|p| {
                    p.chars().last().is_some_and(|c| {
                        c.is_alphanumeric() || c == '_' || c == ')' || c == ']' || c == '>'
                    })
                })
            || prev.as_deref() == Some(".")
            || prev.as_deref() == Some("&")
            || prev.as_deref() == Some("!")
            || (prev.as_deref() == Some("-") && out.len() == 1)
            || prev_joint_punct;
        let s_is_colon_path = s == ":" && prev.as_deref() == Some(":");
        if !out.is_empty() && !tight_before && !s_is_colon_path {
            out.push(' ');
        }
        out.push_str(&s);
        prev_joint_punct = is_punct && joint;
        prev = Some(s);
    }
    out.replace(" :: ", "::")
        .replace(": :", "::")
        .replace(":: ", "::")
}
