//! Rendering: the tree as text, with Unicode sub- and superscripts, the fewest parentheses
//! that read unambiguously, and one minus sign.

use super::tree::{Term, E};
use crate::ir::Index;

/// A number, with the minus sign of the rest of the formula (−2, not -2) and no −0.
pub(super) fn num(c: f64) -> String {
    let text = if c == 0.0 {
        "0".to_string()
    } else if c.fract() == 0.0 && c.abs() < 1e15 {
        format!("{}", c as i64)
    } else {
        format!("{c}")
    };
    text.replace('-', "−")
}

pub(super) fn superscript(s: &str) -> Option<String> {
    s.chars()
        .map(|c| match c {
            '0' => Some('⁰'),
            '1' => Some('¹'),
            '2' => Some('²'),
            '3' => Some('³'),
            '4' => Some('⁴'),
            '5' => Some('⁵'),
            '6' => Some('⁶'),
            '7' => Some('⁷'),
            '8' => Some('⁸'),
            '9' => Some('⁹'),
            '-' | '−' => Some('⁻'),
            _ => None,
        })
        .collect()
}

/// Whether a rendered expression can take a postfix (ᵀ, ⁻¹, a power) without parentheses.
pub(super) fn atomic(e: &E) -> bool {
    match e {
        E::Name(n, _) => {
            !n.contains(' ')
                || n.starts_with('(') && n.ends_with(')')
                || n.starts_with('[') && n.ends_with(']')
        }
        E::Call(..) | E::NormSq(_) | E::Norm(_) | E::Entry(..) | E::Dot(..) => true,
        E::Num(c) => *c >= 0.0,
        // A postfix renders its own parentheses.
        E::T(_) | E::Inv(_) => true,
        E::Pow(x, _) => atomic(x),
        _ => false,
    }
}

/// An expression as an operand of a postfix or an infix operator.
pub(super) fn paren(e: &E) -> String {
    if atomic(e) {
        render(e)
    } else {
        format!("({})", render(e))
    }
}

/// An expression as a factor of a product: products need no parentheses there.
pub(super) fn factor_text(e: &E) -> String {
    match e {
        E::MatPow(..) => render(e),
        E::Sum(ts) if ts.len() == 1 && ts[0].coef == 1.0 => render(e),
        _ => paren(e),
    }
}

pub(super) fn render_term_abs(t: &Term) -> String {
    let mut parts: Vec<String> = Vec::new();
    let c = t.coef.abs();
    // Scalar factors 1/d are shown as a division of the whole product: x / ‖x‖.
    let is_recip = |e: &&E| matches!(e, E::Div(n, _) if **n == E::Num(1.0));
    let denominators: Vec<&E> = t.scalars.iter().filter(is_recip).collect();
    let scalars: Vec<&E> = t.scalars.iter().filter(|e| !is_recip(e)).collect();
    let no_factors = scalars.is_empty() && t.chain.is_empty();
    if c != 1.0 || no_factors {
        parts.push(num(c));
    }
    let factors: Vec<&E> = scalars.into_iter().chain(&t.chain).collect();
    let many = factors.len() > 1 || !parts.is_empty() || !denominators.is_empty();
    let mut out = parts.join(" ");
    for f in factors {
        let s = if many { factor_text(f) } else { render(f) };
        // xᵀ(x w − y), but 2 (x²)ᵀ: a factor in parentheses follows a matrix directly.
        let after_number = out.chars().last().is_some_and(|c| c.is_ascii_digit());
        let glue = !out.is_empty() && (!s.starts_with('(') || after_number);
        if glue {
            out.push(' ');
        }
        out.push_str(&s);
    }
    for d in denominators {
        if let E::Div(_, d) = d {
            out.push_str(" / ");
            out.push_str(&paren(d));
        }
    }
    out
}

pub(super) fn render(e: &E) -> String {
    match e {
        E::MatPow(x, k) => {
            let sup = superscript(&k.to_string()).unwrap_or_else(|| format!("^{k}"));
            format!("{}{sup}", paren(x))
        }
        E::Name(n, _) => n.clone(),
        E::Num(c) => num(*c),
        E::Sum(ts) => {
            let mut out = String::new();
            for (i, t) in ts.iter().enumerate() {
                let body = render_term_abs(t);
                match (i, t.coef < 0.0) {
                    (0, true) => out.push_str(&format!("−{body}")),
                    (0, false) => out.push_str(&body),
                    (_, true) => out.push_str(&format!(" − {body}")),
                    (_, false) => out.push_str(&format!(" + {body}")),
                }
            }
            out
        }
        E::T(x) => match &**x {
            E::Inv(y) => format!("{}⁻ᵀ", paren(y)),
            E::MatPow(..) => format!("({})ᵀ", render(x)),
            y => format!("{}ᵀ", paren(y)),
        },
        E::Inv(x) => format!("{}⁻¹", paren(x)),
        E::Call(f, args) => {
            let inner: Vec<String> = args.iter().map(render).collect();
            match f.as_str() {
                "|·|" => format!("|{}|", inner.join(", ")),
                "√" => format!("√{}", paren(&args[0])),
                "[;]" => format!("[{}]", inner.join("; ")),
                // 1 at the largest (smallest) entry
                "[=max]" | "[=min]" => {
                    let a = paren(&args[0]);
                    format!("[{a} = {} {a}]", &f[2..f.len() - 1])
                }
                // Iverson brackets: 1 where the comparison holds, entry by entry
                "[<]" | "[>]" if inner.len() == 2 => {
                    format!("[{} {} {}]", inner[0], &f[1..2], inner[1])
                }
                _ => format!("{f}({})", inner.join(", ")),
            }
        }
        E::Had(a, b) => format!("{} ⊙ {}", paren(a), paren(b)),
        E::HadDiv(a, b) => format!("{} ⊘ {}", paren(a), paren(b)),
        E::Kron(a, b) => format!("{} ⊗ {}", paren(a), paren(b)),
        E::Div(a, b) => format!("{} / {}", paren(a), paren(b)),
        E::Pow(a, k) => {
            let k = if k.contains(' ') {
                format!("({k})")
            } else {
                k.clone()
            };
            let sup = superscript(&k).unwrap_or_else(|| format!("^{k}"));
            let elementwise = !a.is_scalar();
            match &**a {
                // f²(x) reads better than f(x)²
                E::Call(f, args) if f.chars().all(char::is_alphabetic) => {
                    let inner: Vec<String> = args.iter().map(render).collect();
                    format!("{f}{sup}({})", inner.join(", "))
                }
                _ if elementwise => format!("{}^⊙{k}", paren(a)),
                _ => format!("{}{sup}", paren(a)),
            }
        }
        E::NormSq(a) => format!("‖{}‖²", render(a)),
        E::Norm(a) => format!("‖{}‖", render(a)),
        E::Dot(a, b) => format!("⟨{}, {}⟩", render(a), render(b)),
        E::Entry(a, i) => format!("{}[{i}]", paren(a)),
    }
}

pub(super) fn subscript(s: &str) -> String {
    const SUB: [char; 10] = ['₀', '₁', '₂', '₃', '₄', '₅', '₆', '₇', '₈', '₉'];
    if s.chars().all(|c| c.is_ascii_digit()) {
        s.chars()
            .map(|c| SUB[c.to_digit(10).unwrap_or(0) as usize])
            .collect()
    } else {
        format!("[{s}]")
    }
}

pub(super) fn sub_text(i: &Index) -> String {
    const SUB: [char; 10] = ['₀', '₁', '₂', '₃', '₄', '₅', '₆', '₇', '₈', '₉'];
    match i {
        Index::Lit(n) => n
            .to_string()
            .chars()
            .map(|c| SUB[c.to_digit(10).unwrap_or(0) as usize])
            .collect(),
        Index::Expr { text, .. } if text.chars().all(|c| c.is_alphanumeric() || c == '_') => {
            text.clone()
        }
        Index::Expr { text, .. } => format!("[{text}]"),
    }
}
