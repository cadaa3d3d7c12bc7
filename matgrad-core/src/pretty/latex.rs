//! The same trees as LaTeX, for KaTeX in rustdoc: `(a + a^\top) w`, `\operatorname{tr}(\cdot)`,
//! `\odot`, `\frac{\partial f}{\partial w}`. Mirrors `render.rs` case by case.

use super::render::num;
use super::tree::{Term, E};

/// A name as math: one letter as is, a word upright (`\mathrm{logits}`), trailing digits as a
/// subscript (w1 is w₁), Greek names as letters, and the Unicode marks the tree uses
/// (subscripts, ᵀ) as LaTeX.
pub(super) fn name(n: &str) -> String {
    if n == "1" {
        return r"\mathbf{1}".into();
    }
    if let Some(x) = n.strip_prefix("∂f/∂") {
        return format!(r"\frac{{\partial f}}{{\partial {}}}", name(x));
    }
    if let Some(x) = n
        .strip_prefix("∂vec(f)/∂vec(")
        .and_then(|x| x.strip_suffix(")ᵀ"))
    {
        return format!(
            r"\frac{{\partial \operatorname{{vec}}(f)}}{{\partial \operatorname{{vec}}({})^{{\top}}}}",
            name(x)
        );
    }
    const GREEK: [&str; 14] = [
        "alpha", "beta", "gamma", "delta", "epsilon", "theta", "kappa", "lambda", "mu", "nu",
        "rho", "sigma", "tau", "phi",
    ];
    if GREEK.contains(&n) {
        return format!(r"\{n}");
    }
    let word: String = n.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let rest = &n[word.len()..];
    if !word.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c == '_') {
        let base = match word.len() {
            1 => word.clone(),
            _ if GREEK.contains(&word.as_str()) => format!(r"\{word}"),
            _ => format!(r"\mathrm{{{word}}}"),
        };
        let sub = rest.trim_start_matches('_');
        return match sub {
            "" => base,
            s => format!("{base}_{{{}}}", s.replace('_', ",")),
        };
    }
    unicode(n)
}

/// Text with the Unicode marks of formulas in LaTeX (outside a name's rules).
fn unicode(s: &str) -> String {
    let mut out = String::new();
    let mut sub = String::new();
    let flush = |out: &mut String, sub: &mut String| {
        if !sub.is_empty() {
            out.push_str(&format!("_{{{sub}}}"));
            sub.clear();
        }
    };
    for c in s.chars() {
        if let Some(d) = "₀₁₂₃₄₅₆₇₈₉".chars().position(|x| x == c) {
            sub.push(char::from(b'0' + d as u8));
            continue;
        }
        if let Some(l) = [('ₗ', 'l'), ('ᵣ', 'r'), ('ᵢ', 'i'), ('ⱼ', 'j'), ('ₖ', 'k')]
            .iter()
            .find(|(u, _)| *u == c)
        {
            sub.push(l.1);
            continue;
        }
        flush(&mut out, &mut sub);
        match c {
            'ᵀ' => out.push_str(r"^{\top}"),
            '−' => out.push('-'),
            '⁻' => out.push_str("^{-}"),
            '₍' | '₎' => {}
            '⊤' => out.push_str(r"^{\top}"),
            '∇' => out.push_str(r"\nabla "),
            '²' => out.push_str("^{2}"),
            'π' => out.push_str(r"\pi "),
            'Φ' => out.push_str(r"\Phi "),
            'σ' => out.push_str(r"\sigma "),
            'κ' => out.push_str(r"\kappa "),
            'γ' => out.push_str(r"\gamma "),
            '∂' => out.push_str(r"\partial "),
            '√' => out.push_str(r"\surd "),
            '⊙' => out.push_str(r"\odot "),
            '⊘' => out.push_str(r"\oslash "),
            '‖' => out.push_str(r"\Vert "),
            '⟨' => out.push_str(r"\langle "),
            '⟩' => out.push_str(r"\rangle "),
            '×' => out.push_str(r"\times "),
            c if !c.is_ascii() => out.push_str(&format!(r"\text{{{c}}}")),
            '#' | '$' | '%' | '&' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    flush(&mut out, &mut sub);
    out
}

fn function(f: &str) -> String {
    match f {
        "exp" | "ln" | "tanh" | "sinh" | "cosh" | "sin" | "cos" | "tan" | "det" | "max" | "min" => {
            format!(r"\{f}")
        }
        "Φ" => r"\Phi".into(),
        "σ" => r"\sigma".into(),
        "log₁₀" => r"\log_{10}".into(),
        "log₂" => r"\log_{2}".into(),
        f if f.starts_with("embed") => format!(r"\operatorname{{embed}}{}", unicode(&f[5..])),
        f => format!(r"\operatorname{{{}}}", unicode(f)),
    }
}

fn atomic(e: &E) -> bool {
    match e {
        E::Name(n, _) => !n.contains(' ') || n.starts_with('[') && n.ends_with(']'),
        E::Call(..) | E::NormSq(_) | E::Norm(_) | E::Entry(..) | E::Dot(..) => true,
        E::Num(c) => *c >= 0.0,
        E::T(_) | E::Inv(_) => true,
        E::Pow(x, _) => atomic(x),
        _ => false,
    }
}

fn paren(e: &E) -> String {
    if atomic(e) {
        latex(e)
    } else {
        format!(r"\left({}\right)", latex(e))
    }
}

/// A postfix's operand in braces: `{(a + b)}^\top`.
fn base(e: &E) -> String {
    format!("{{{}}}", paren(e))
}

fn factor(e: &E) -> String {
    match e {
        E::MatPow(..) => latex(e),
        E::Sum(ts) if ts.len() == 1 && ts[0].coef == 1.0 => latex(e),
        _ => paren(e),
    }
}

fn term_abs(t: &Term) -> String {
    let is_recip = |e: &&E| matches!(e, E::Div(n, _) if **n == E::Num(1.0));
    let denominators: Vec<&E> = t.scalars.iter().filter(is_recip).collect();
    let scalars: Vec<&E> = t.scalars.iter().filter(|e| !is_recip(e)).collect();
    let factors: Vec<&E> = scalars.into_iter().chain(&t.chain).collect();
    let c = t.coef.abs();
    let mut parts: Vec<String> = Vec::new();
    // c / (d₁ d₂) in front of the product: \frac{2}{n} x^\top r
    if !denominators.is_empty() {
        let den: Vec<String> = denominators
            .iter()
            .filter_map(|d| match d {
                E::Div(_, d) => Some(paren(d)),
                _ => None,
            })
            .collect();
        parts.push(format!(r"\frac{{{}}}{{{}}}", num(c), den.join(r"\,")));
    } else if c != 1.0 || factors.is_empty() {
        parts.push(num(c));
    }
    let many = factors.len() > 1 || !parts.is_empty();
    for f in factors {
        parts.push(if many { factor(f) } else { latex(f) });
    }
    parts.join(r"\,")
}

/// The tree as LaTeX.
pub(super) fn latex(e: &E) -> String {
    match e {
        E::Name(n, _) => name(n),
        E::Num(c) => num(*c).replace('−', "-"),
        E::Sum(ts) => {
            let mut out = String::new();
            for (i, t) in ts.iter().enumerate() {
                let body = term_abs(t);
                out.push_str(match (i, t.coef < 0.0) {
                    (0, true) => "-",
                    (0, false) => "",
                    (_, true) => " - ",
                    (_, false) => " + ",
                });
                out.push_str(&body);
            }
            out
        }
        E::T(x) => match &**x {
            E::Inv(y) => format!(r"{}^{{-\top}}", base(y)),
            y => format!(r"{}^{{\top}}", base(y)),
        },
        E::Inv(x) => format!("{}^{{-1}}", base(x)),
        E::MatPow(x, k) => format!("{}^{{{k}}}", base(x)),
        E::Call(f, args) => {
            let inner: Vec<String> = args.iter().map(latex).collect();
            match f.as_str() {
                "|·|" => format!(r"\lvert {} \rvert", inner.join(", ")),
                "√" => format!(r"\sqrt{{{}}}", inner.join(", ")),
                "[;]" => format!(r"\begin{{bmatrix}} {} \end{{bmatrix}}", inner.join(r" \\ ")),
                "[=max]" | "[=min]" => {
                    let a = paren(&args[0]);
                    format!(r"[{a} = \{} {a}]", &f[2..f.len() - 1])
                }
                "[<]" | "[>]" if inner.len() == 2 => {
                    format!("[{} {} {}]", inner[0], &f[1..2], inner[1])
                }
                _ => format!(r"{}\left({}\right)", function(f), inner.join(", ")),
            }
        }
        E::Had(a, b) => format!(r"{} \odot {}", paren(a), paren(b)),
        E::HadDiv(a, b) => format!(r"{} \oslash {}", paren(a), paren(b)),
        E::Kron(a, b) => format!(r"{} \otimes {}", paren(a), paren(b)),
        E::Div(a, b) => format!(r"\frac{{{}}}{{{}}}", latex(a), latex(b)),
        E::Pow(a, k) => {
            let k = unicode(k);
            match &**a {
                E::Call(f, args) if f.chars().all(char::is_alphabetic) => {
                    let inner: Vec<String> = args.iter().map(latex).collect();
                    format!(r"{}^{{{k}}}\left({}\right)", function(f), inner.join(", "))
                }
                a if !a.is_scalar() => format!(r"{}^{{\odot {k}}}", base(a)),
                a => format!("{}^{{{k}}}", base(a)),
            }
        }
        E::NormSq(a) => format!(r"\lVert {} \rVert^2", latex(a)),
        E::Norm(a) => format!(r"\lVert {} \rVert", latex(a)),
        E::Dot(a, b) => format!(r"\langle {}, {} \rangle", latex(a), latex(b)),
        E::Entry(a, i) => format!("{}_{{{}}}", base(a), unicode(i)),
    }
}
