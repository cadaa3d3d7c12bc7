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

// Rendering appends to one buffer (`write_*`): a formula is rendered often (sorting terms,
// counting repeated subexpressions), and a `String` per subexpression was most of its cost.

/// An expression as an operand of a postfix or an infix operator.
pub(super) fn paren(e: &E) -> String {
    let mut out = String::new();
    write_paren(e, &mut out);
    out
}

fn write_paren(e: &E, out: &mut String) {
    if atomic(e) {
        write(e, out);
    } else {
        out.push('(');
        write(e, out);
        out.push(')');
    }
}

/// An expression as a factor of a product: products need no parentheses there.
fn write_factor(e: &E, out: &mut String) {
    match e {
        E::MatPow(..) => write(e, out),
        E::Sum(ts) if ts.len() == 1 && ts[0].coef == 1.0 => write(e, out),
        _ => write_paren(e, out),
    }
}

pub(super) fn render_term_abs(t: &Term) -> String {
    let mut out = String::new();
    write_term_abs(t, &mut out);
    out
}

/// A term without its sign, appended to `out` (what is already in `out` is not part of it).
fn write_term_abs(t: &Term, out: &mut String) {
    let start = out.len();
    let c = t.coef.abs();
    // Scalar factors 1/d are shown as a division of the whole product: x / ‖x‖.
    let is_recip = |e: &&E| matches!(e, E::Div(n, _) if **n == E::Num(1.0));
    let denominators: Vec<&E> = t.scalars.iter().filter(is_recip).collect();
    let scalars: Vec<&E> = t.scalars.iter().filter(|e| !is_recip(e)).collect();
    let no_factors = scalars.is_empty() && t.chain.is_empty();
    let with_number = c != 1.0 || no_factors;
    if with_number {
        out.push_str(&num(c));
    }
    let factors: Vec<&E> = scalars.into_iter().chain(&t.chain).collect();
    let many = factors.len() > 1 || with_number || !denominators.is_empty();
    for f in factors {
        // xᵀ(x w − y), but 2 (x²)ᵀ: a factor in parentheses follows a matrix directly.
        let after_number = out[start..]
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_digit());
        let first = out.len() == start;
        let at = out.len();
        if many {
            write_factor(f, out);
        } else {
            write(f, out);
        }
        if !first && (!out[at..].starts_with('(') || after_number) {
            out.insert(at, ' ');
        }
    }
    for d in denominators {
        if let E::Div(_, d) = d {
            out.push_str(" / ");
            write_paren(d, out);
        }
    }
}

pub(super) fn render(e: &E) -> String {
    let mut out = String::new();
    write(e, &mut out);
    out
}

/// `items` rendered, with `sep` between them.
fn write_list(items: &[E], sep: &str, out: &mut String) {
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        write(x, out);
    }
}

/// `e` rendered, appended to `out`.
fn write(e: &E, out: &mut String) {
    match e {
        E::MatPow(x, k) => {
            let sup = superscript(&k.to_string()).unwrap_or_else(|| format!("^{k}"));
            write_paren(x, out);
            out.push_str(&sup);
        }
        E::Name(n, _) => out.push_str(n),
        E::Num(c) => out.push_str(&num(*c)),
        E::Sum(ts) => {
            for (i, t) in ts.iter().enumerate() {
                out.push_str(match (i, t.coef < 0.0) {
                    (0, true) => "−",
                    (0, false) => "",
                    (_, true) => " − ",
                    (_, false) => " + ",
                });
                write_term_abs(t, out);
            }
        }
        E::T(x) => match &**x {
            E::Inv(y) => {
                write_paren(y, out);
                out.push_str("⁻ᵀ");
            }
            E::MatPow(..) => {
                out.push('(');
                write(x, out);
                out.push_str(")ᵀ");
            }
            y => {
                write_paren(y, out);
                out.push('ᵀ');
            }
        },
        E::Inv(x) => {
            write_paren(x, out);
            out.push_str("⁻¹");
        }
        E::Call(f, args) => match f.as_str() {
            "|·|" => {
                out.push('|');
                write_list(args, ", ", out);
                out.push('|');
            }
            "√" => {
                out.push('√');
                write_paren(&args[0], out);
            }
            "[;]" => {
                out.push('[');
                write_list(args, "; ", out);
                out.push(']');
            }
            // 1 at the largest (smallest) entry
            "[=max]" | "[=min]" => {
                let a = paren(&args[0]);
                out.push_str(&format!("[{a} = {} {a}]", &f[2..f.len() - 1]));
            }
            // Iverson brackets: 1 where the comparison holds, entry by entry
            "[<]" | "[>]" if args.len() == 2 => {
                out.push('[');
                write(&args[0], out);
                out.push(' ');
                out.push_str(&f[1..2]);
                out.push(' ');
                write(&args[1], out);
                out.push(']');
            }
            _ => {
                out.push_str(f);
                out.push('(');
                write_list(args, ", ", out);
                out.push(')');
            }
        },
        E::Had(a, b) => write_infix(a, " ⊙ ", b, out),
        E::HadDiv(a, b) => write_infix(a, " ⊘ ", b, out),
        E::Kron(a, b) => write_infix(a, " ⊗ ", b, out),
        E::Div(a, b) => write_infix(a, " / ", b, out),
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
                    out.push_str(f);
                    out.push_str(&sup);
                    out.push('(');
                    write_list(args, ", ", out);
                    out.push(')');
                }
                _ if elementwise => {
                    write_paren(a, out);
                    out.push_str("^⊙");
                    out.push_str(&k);
                }
                _ => {
                    write_paren(a, out);
                    out.push_str(&sup);
                }
            }
        }
        E::NormSq(a) => {
            out.push('‖');
            write(a, out);
            out.push_str("‖²");
        }
        E::Norm(a) => {
            out.push('‖');
            write(a, out);
            out.push('‖');
        }
        E::Dot(a, b) => {
            out.push('⟨');
            write(a, out);
            out.push_str(", ");
            write(b, out);
            out.push('⟩');
        }
        E::Entry(a, i) => {
            write_paren(a, out);
            out.push('[');
            out.push_str(i);
            out.push(']');
        }
    }
}

/// `a op b`, each operand in parentheses unless atomic.
fn write_infix(a: &E, op: &str, b: &E, out: &mut String) {
    write_paren(a, out);
    out.push_str(op);
    write_paren(b, out);
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
