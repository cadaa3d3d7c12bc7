//! A front end that cannot panic (issue 3.4), and an expansion that is deterministic (issue 3.5).
//!
//! `malformed_inputs_never_panic` feeds `expand_gradient` over 5,000 malformed and mutated
//! functions: a corpus of valid functions (the seed examples and the Matrix Cookbook suite, plus
//! let bindings, closures, static types, scalar variables and indices), random token-level
//! mutations of them (truncation, deletion, duplication, swaps, stray tokens, invisible groups),
//! targeted mutations (unknown methods, wrong argument counts, odd literals, attributes in odd
//! places, qualifiers, generics, receivers, patterns, early returns, control flow), random
//! expression bodies over the whole operation set, and random `wrt` attributes (with and
//! without `hessian`). Each expansion must not panic, and its output must parse as a Rust file:
//! compile errors, the original function (which must be there, unchanged) and, on success, the
//! generated items. An internal error is a failure too. (An item whose own tokens are not a
//! sequence of items need only not panic.) The generator is a seeded xorshift, so a failure
//! names the seed that reproduces it; the report also gives a reproduction minimized by
//! deleting tokens. Inputs that once failed are kept in `REGRESSIONS`.
//!
//! `stress_inputs_do_not_crash` runs large inputs (nesting hundreds deep, sums of thousands of
//! terms, long chains) in a child process, since a stack overflow aborts the process instead
//! of panicking; the cases run on an 8 MiB stack, like rustc's main thread where macros run.
//!
//! `expansion_is_deterministic` expands every corpus function (and a sample of mutated ones)
//! several times, with unrelated expansions and another thread in between, and requires the
//! same tokens each time.
//!
//! `MATGRAD_ROBUST_CASES=N` runs N random cases instead of the default, for longer runs;
//! `MATGRAD_ROBUST_TRACE=1` prints each case before running it. The cargo-fuzz target in
//! `fuzz/` is the open-ended version of this test.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::time::Instant;

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};

use super::rng::Rng;

/// How many random cases `malformed_inputs_never_panic` runs by default (the corpus, the
/// stress inputs and the attribute table come on top).
const RANDOM_CASES: u64 = 4400;

/// The stack the cases run on: rustc runs proc macros on its main thread, which has 8 MiB.
const STACK: usize = 8 << 20;

// ---- the corpus ------------------------------------------------------------------------------

/// Valid functions: `(attribute, item)`. Every one of them expands without errors (checked by
/// `expansion_is_deterministic`), so that mutations start from functions the engine accepts.
const CORPUS: &[(&str, &str)] = &[
    // tests/it/iterators.rs: iterators, zip_map, functions by their path, constant maps
    (
        "wrt = w, hessian",
        "fn logistic_iter(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 { let z = x * w; z.iter().zip(y.iter()).map(|(&z, &y)| (1.0 + z.exp()).ln() - y * z).sum::<f64>() }",
    ),
    (
        "wrt = (a, b)",
        "fn gated(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 { a.zip_map(b, |u, v| u * v.tanh()).sum() }",
    ),
    (
        "wrt = w",
        "fn cross_entropy(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 { let p = (x * w).map(|z| 1.0 / (1.0 + (-z).exp())); -(y.dot(&p.map(f64::ln)) + y.map(|v| 1.0 - v).dot(&p.map(|v| (1.0 - v).ln()))) }",
    ),
    (
        "wrt = (a, r)",
        "fn zipped_three(a: &DVector<f64>, r: &RowDVector<f64>, c: &DVector<f64>) -> f64 { a.iter().zip(r.iter()).zip(c).map(|((&u, &v), &w)| u * v.sin() * w).sum::<f64>() }",
    ),
    // tests/it/seeds.rs
    (
        "wrt = x",
        "fn a_x_b(a: &DVector<f64>, x: &DMatrix<f64>, b: &DVector<f64>) -> f64 { (a.transpose() * x * b)[(0, 0)] }",
    ),
    (
        "wrt = w",
        "pub fn least_squares(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 { (x * w - y).norm_squared() }",
    ),
    (
        "wrt = (a, b)",
        "fn trace_ab(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 { (a * b).trace() }",
    ),
    (
        "wrt = x",
        "fn trace_bt_xt_c_x_b(b: &DMatrix<f64>, x: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 { (b.transpose() * x.transpose() * c * x * b).trace() }",
    ),
    (
        "wrt = (x, y)",
        "fn bilinear_form(x: &DVector<f64>, a: &DMatrix<f64>, y: &DVector<f64>) -> f64 { (x.transpose() * a * y)[(0, 0)] }",
    ),
    (
        "wrt = x",
        "fn a_x_x_b_dots(a: &DVector<f64>, x: &DVector<f64>, b: &DVector<f64>) -> f64 { a.dot(x) * x.dot(b) }",
    ),
    (
        "wrt = x",
        "fn quadratic_form_004(x: &DVector<f64>, a: &DMatrix<f64>) -> f64 { x.dot(&(a * x)) }",
    ),
    ("wrt = a", "fn determinant(a: &DMatrix<f64>) -> f64 { a.determinant() }"),
    ("wrt = x", "fn entry(x: &DMatrix<f64>) -> f64 { x[(2, 1)] }"),
    // tests/it/cookbook.rs
    (
        "wrt = x",
        "pub fn tr_xt_a_via_tr_mul(x: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 { x.tr_mul(a).trace() }",
    ),
    (
        "wrt = x",
        "pub fn tr_a_kron_x(a: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 { a.kronecker(x).trace() }",
    ),
    (
        "wrt = x",
        "pub fn tr_x_fourth(x: &DMatrix<f64>) -> f64 { let x2 = x * x; (&x2 * &x2).trace() }",
    ),
    (
        "wrt = x",
        "pub fn at_xinv_b(a: &DVector<f64>, x: &DMatrix<f64>, b: &DVector<f64>) -> f64 { a.dot(&(x.clone().try_inverse().unwrap() * b)) }",
    ),
    (
        "wrt = (x, lambda)",
        "pub fn ln_det_regularized_gram(x: &DMatrix<f64>, lambda: f64) -> f64 { (x.transpose() * x + DMatrix::identity(x.ncols(), x.ncols()) * lambda).determinant().ln() }",
    ),
    (
        "wrt = x",
        "pub fn ln_abs_det(x: &DMatrix<f64>) -> f64 { x.determinant().abs().ln() }",
    ),
    (
        "wrt = (x, w)",
        "pub fn sum_exp_xw(x: &DMatrix<f64>, w: &DVector<f64>) -> f64 { (x * w).map(|v| v.exp()).sum() }",
    ),
    (
        "wrt = z",
        "pub fn sum_softplus(z: &DVector<f64>) -> f64 { z.map(|v| v.exp().ln_1p()).sum() }",
    ),
    (
        "wrt = x",
        "pub fn sum_abs_pow(x: &DVector<f64>, p: f64) -> f64 { x.map(|v| v.abs().powf(p)).sum() }",
    ),
    (
        "wrt = x",
        "pub fn sum_inv_sqrt(x: &DVector<f64>) -> f64 { x.map(|v| (1.0 + v * v).sqrt().recip()).sum() }",
    ),
    ("wrt = x", "pub fn log_barrier(x: &DMatrix<f64>) -> f64 { -x.map(|v| v.ln()).sum() }"),
    (
        "wrt = (x, s)",
        "pub fn sum_cos_scaled(x: &DVector<f64>, s: f64) -> f64 { x.map(|v| (s * v).cos()).sum() }",
    ),
    (
        "wrt = (x, c)",
        "pub fn shifted_frobenius_sq(x: &DMatrix<f64>, c: f64) -> f64 { x.add_scalar(c).norm_squared() }",
    ),
    (
        "wrt = (a, x)",
        "pub fn kron_weighted(a: &DMatrix<f64>, x: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 { a.kronecker(x).component_mul(c).sum() }",
    ),
    (
        "wrt = (w, lambda)",
        "pub fn ridge(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>, lambda: f64) -> f64 { (x * w - y).norm_squared() + lambda * w.norm_squared() }",
    ),
    (
        "wrt = w",
        "pub fn mean_squared_error(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 { (x * w - y).norm_squared() / (x.nrows() as f64) }",
    ),
    (
        "wrt = x",
        "pub fn sum_a_div_x(a: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 { a.component_div(x).sum() }",
    ),
    (
        "wrt = (w, wt)",
        "pub fn weighted_least_squares(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>, wt: &DMatrix<f64>) -> f64 { let r = x * w - y; (r.transpose() * wt * &r)[(0, 0)] }",
    ),
    (
        "wrt = w",
        "pub fn logistic_loss(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 { let z = x * w; z.map(|v| v.exp().ln_1p()).sum() - y.dot(&z) }",
    ),
    (
        "wrt = w",
        "pub fn softmax_cross_entropy(w: &DMatrix<f64>, x: &DVector<f64>, k: usize) -> f64 { let z = w * x; -z[k] + z.map(|v| v.exp()).sum().ln() }",
    ),
    (
        "wrt = (sigma, mu)",
        "pub fn gaussian_nll_cov(x: &DVector<f64>, mu: &DVector<f64>, sigma: &DMatrix<f64>) -> f64 { let r = x - mu; 0.5 * sigma.determinant().ln() + 0.5 * r.dot(&(sigma.clone().try_inverse().unwrap() * &r)) }",
    ),
    (
        "wrt = (u, v)",
        "pub fn matrix_factorization(y: &DMatrix<f64>, u: &DMatrix<f64>, v: &DMatrix<f64>) -> f64 { (y - u * v.transpose()).norm_squared() }",
    ),
    (
        "wrt = x",
        "pub fn ax_norm_sq_owned(a: DMatrix<f64>, x: DVector<f64>) -> f64 { (a * x).norm_squared() }",
    ),
    // tests/it/check.rs: static types
    (
        "wrt = a",
        "fn static_quad(a: &Matrix2x3<f64>, x: &Vector3<f64>) -> f64 { (a * x).norm_squared() }",
    ),
    (
        "wrt = (a, s, b)",
        "fn scaled(a: &DMatrix<f64>, s: f64, b: &DVector<f64>) -> f64 { (a * b).norm_squared() * s }",
    ),
    // More shapes of body.
    (
        "wrt = (a, b)",
        "fn scalars(a: f64, b: f64) -> f64 { let p = a * b; p.exp() + a.powi(3) / b.sqrt() - b.ln_1p() + a.sin() * b.cos() + (a / b).tanh() }",
    ),
    (
        "wrt = x",
        "fn row(x: &RowDVector<f64>, a: &DMatrix<f64>) -> f64 { (x * a).norm_squared() + x.sum() }",
    ),
    (
        "wrt = x",
        "fn early_return(x: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 { let t = x.transpose() * a; let u = &t * x; return u.trace() + t.sum(); }",
    ),
    (
        "wrt = (x, s)",
        "fn entries(x: &DMatrix<f64>, s: f64) -> f64 { x[(0, 1)] * s + x[(1, 0)].powi(2) - (-x).component_mul(x).norm() / s }",
    ),
    (
        "wrt = m",
        "fn static_square(m: &Matrix3<f64>, v: &Vector3<f64>) -> f64 { m.determinant() + (m * v).dot(v) + m.transpose().map(|e| e * e).sum() }",
    ),
    (
        "wrt = (x, y)",
        "/// Documented.\n#[inline]\npub(crate) fn attributed(x: DMatrix<f64>, y: &DMatrix<f64>) -> f64 { let n = x.nrows() as f64; let d = &x - y; d.norm_squared() / n + x.map(|v| v.abs()).sum() }",
    ),
    (
        "wrt = w",
        "fn constants(w: &DVector<f64>, k: usize) -> f64 { let c = (k as f64).sqrt() + 2.0; let scale: f64 = 0.5 * c; scale * w.norm() + w[0] }",
    ),
];

/// `wrt` attributes that are wrong, or only odd.
const ODD_ATTRS: &[&str] = &[
    "",
    "wrt",
    "wrt =",
    "wrt = (",
    "wrt = ()",
    "wrt = (x",
    "wrt = x, wrt = y",
    "wrt = x, wrt = x",
    "wrt = (x, x)",
    "wrt = 1",
    "wrt = 1.5e400",
    "wrt = \"x\"",
    "wrt = 'x'",
    "wrt = 'a",
    "foo",
    "foo = x",
    "foo(x)",
    "wrt(x)",
    "wrt = x,",
    "wrt = (x,)",
    "wrt = (x, y,)",
    "wrt = x y",
    "wrt = [x]",
    "wrt = {x}",
    "wrt = self",
    "wrt = Self",
    "wrt = r#x",
    "wrt = r#loop",
    "wrt = _",
    "wrt = x::y",
    "wrt = ::x",
    "wrt = <x>::y",
    "wrt = &x",
    "wrt = *x",
    "wrt = -x",
    "wrt = x + y",
    "wrt = ((x))",
    "wrt = (x, (y))",
    "wrt = (x, y, z, w, a, b, c, s)",
    "wrt = (,)",
    "wrt = x as f64",
    "wrt = x; y",
    "wrt = x, foo",
    "wrt: x",
    "wrt == x",
    "=",
    ",",
    ",,",
    "wrt = x,,",
    "#[x]",
    "r#wrt = x",
    "crate::wrt = x",
    "wrt::x = y",
    "wrt = x = y",
    "wrt = $x",
    "wrt = x!()",
    "wrt = |x| x",
    "wrt = größe",
    "WRT = x",
    "wrt = x, hessian",
    "hessian, wrt = x",
    "hessian",
    "wrt = x, hessian, hessian",
    "wrt = x, hessian = 1",
    "wrt = x, hessian(x)",
    "wrt = x, hessian = true",
    "wrt = x, layout = blocks",
    "wrt = x, layout = numerator",
    "wrt = (x, y), hessian",
];

// ---- a deterministic generator -----------------------------------------------------------------

impl Rng {
    /// This test's own stream of `seed`.
    fn salted(seed: u64) -> Self {
        Rng::new(seed ^ 0x5DEE_CE66_D1CE_B00C)
    }
    fn percent(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }
}

// ---- token trees that can be edited -------------------------------------------------------------

/// A token stream as plain data: leaves and groups.
#[derive(Clone)]
enum Tok {
    Leaf(TokenTree),
    Group(Delimiter, Vec<Tok>),
}

fn toks(ts: TokenStream) -> Vec<Tok> {
    ts.into_iter()
        .map(|tt| match tt {
            TokenTree::Group(g) => Tok::Group(g.delimiter(), toks(g.stream())),
            other => Tok::Leaf(other),
        })
        .collect()
}

fn stream(v: &[Tok]) -> TokenStream {
    v.iter()
        .map(|t| match t {
            Tok::Leaf(tt) => tt.clone(),
            Tok::Group(d, inner) => TokenTree::Group(Group::new(*d, stream(inner))),
        })
        .collect()
}

/// Tokens of a fixed fragment of source text (which must lex).
fn frag(s: &str) -> Vec<Tok> {
    match s.parse::<TokenStream>() {
        Ok(ts) => toks(ts),
        Err(e) => panic!("test fragment {s:?} does not lex: {e}"),
    }
}

/// Tokens of generated source text, if it lexes.
fn try_frag(s: &str) -> Option<Vec<Tok>> {
    s.parse::<TokenStream>().ok().map(toks)
}

fn frag_stream(s: &str) -> TokenStream {
    stream(&frag(s))
}

fn count(v: &[Tok]) -> usize {
    v.iter()
        .map(|t| match t {
            Tok::Leaf(_) => 1,
            Tok::Group(_, inner) => 1 + count(inner),
        })
        .sum()
}

/// The paths of all token lists: the top level, then every group's contents.
fn containers(v: &[Tok], path: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    out.push(path.clone());
    for (i, t) in v.iter().enumerate() {
        if let Tok::Group(_, inner) = t {
            path.push(i);
            containers(inner, path, out);
            path.pop();
        }
    }
}

fn container<'a>(v: &'a mut Vec<Tok>, path: &[usize]) -> &'a mut Vec<Tok> {
    match path.split_first() {
        None => v,
        Some((&i, rest)) => match &mut v[i] {
            Tok::Group(_, inner) => container(inner, rest),
            Tok::Leaf(_) => unreachable!("container paths lead through groups"),
        },
    }
}

/// A random token list, larger lists more likely.
fn random_container(rng: &mut Rng, v: &[Tok]) -> Vec<usize> {
    let mut all = Vec::new();
    containers(v, &mut Vec::new(), &mut all);
    // Pick a token uniformly, then its list: two tries at a non-empty one.
    for _ in 0..2 {
        let p = rng.pick(&all).clone();
        if container_len(v, &p) > 0 || rng.percent(30) {
            return p;
        }
    }
    Vec::new()
}

fn container_len(v: &[Tok], path: &[usize]) -> usize {
    match path.split_first() {
        None => v.len(),
        Some((&i, rest)) => match &v[i] {
            Tok::Group(_, inner) => container_len(inner, rest),
            Tok::Leaf(_) => 0,
        },
    }
}

/// The first `budget` tokens in source order, groups closed where the cut falls.
fn truncate(v: &[Tok], budget: &mut usize) -> Vec<Tok> {
    let mut out = Vec::new();
    for t in v {
        if *budget == 0 {
            break;
        }
        *budget -= 1;
        match t {
            Tok::Leaf(_) => out.push(t.clone()),
            Tok::Group(d, inner) => out.push(Tok::Group(*d, truncate(inner, budget))),
        }
    }
    out
}

fn is_ident(t: &Tok, name: &str) -> bool {
    matches!(t, Tok::Leaf(TokenTree::Ident(i)) if i == name)
}

fn is_punct(t: &Tok, c: char) -> bool {
    matches!(t, Tok::Leaf(TokenTree::Punct(p)) if p.as_char() == c)
}

fn is_group(t: &Tok, d: Delimiter) -> bool {
    matches!(t, Tok::Group(g, _) if *g == d)
}

/// The parts of a function's top level: the `fn` keyword, its parameter list and its body.
struct Parts {
    fn_kw: usize,
    params: usize,
    body: usize,
}

fn parts(v: &[Tok]) -> Option<Parts> {
    let fn_kw = v.iter().position(|t| is_ident(t, "fn"))?;
    let params = (fn_kw + 1..v.len()).find(|&i| is_group(&v[i], Delimiter::Parenthesis))?;
    let body = (params..v.len())
        .rev()
        .find(|&i| is_group(&v[i], Delimiter::Brace))?;
    Some(Parts {
        fn_kw,
        params,
        body,
    })
}

/// The names of the parameters: identifiers followed by `:` at the top level of the list.
fn param_names(params: &[Tok]) -> Vec<String> {
    let mut out = Vec::new();
    for w in params.windows(2) {
        if let (Tok::Leaf(TokenTree::Ident(i)), true) = (&w[0], is_punct(&w[1], ':')) {
            out.push(i.to_string());
        }
    }
    out
}

fn group_contents(v: &mut [Tok], i: usize) -> Option<&mut Vec<Tok>> {
    match v.get_mut(i) {
        Some(Tok::Group(_, inner)) => Some(inner),
        _ => None,
    }
}

// ---- mutation tables ---------------------------------------------------------------------------

const TOKEN_POOL: &[&str] = &[
    ";",
    ",",
    ".",
    "&",
    "*",
    "-",
    "+",
    "!",
    "?",
    "=",
    "#",
    "'a",
    "x",
    "w",
    "self",
    "Self",
    "fn",
    "let",
    "return",
    "mut",
    "move",
    "async",
    "await",
    "1",
    "1.0",
    "\"s\"",
    "()",
    "[]",
    "{}",
    "(x)",
    "|",
    "||",
    "::",
    "<",
    ">",
    "->",
    "=>",
    "@",
    "..",
    "_",
    "as",
    "f64",
    "DMatrix",
    "#[inline]",
    "$",
    "~",
    "^",
    "%",
    "loop",
    "break",
    "'l:",
    "r#x",
    "crate",
    "super",
    "dyn",
    "impl",
    "where",
    "&&",
    "..=",
    "<<",
    "/",
    "0",
    "-1",
];

const IDENT_POOL: &[&str] = &[
    "x",
    "w",
    "y",
    "a",
    "b",
    "s",
    "v",
    "self",
    "Self",
    "super",
    "crate",
    "frobnicate",
    "f64",
    "DMatrix",
    "transpose",
    "trace",
    "map",
    "unwrap",
    "r#x",
    "r#loop",
    "r#fn",
    "r#f64",
    "größe",
    "_x",
    "__mg_p0",
    "__mg_o0",
    "__mg_l0",
    "matgrad",
    "core",
    "nalgebra",
    "std",
    "T",
    "N",
    "mut",
    "ref",
    "box",
    "yield",
    "gen",
    "union",
    "macro_rules",
    "try",
    "dyn",
    "async",
    "in",
    "static",
];

/// Method names for mutations: the whole vocabulary (`ir/vocabulary.rs`), and names it does
/// not have (nalgebra methods, keywords, nonsense).
static METHOD_POOL: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    use crate::ir::vocabulary::{FUNCTIONS, METHODS, SCALAR_METHODS};
    let known = METHODS.iter().chain(SCALAR_METHODS).map(|m| m.name);
    let functions = FUNCTIONS.iter().filter_map(|f| f.rust);
    let others = [
        "frobnicate",
        "unwrap",
        "expect",
        "clone",
        "clone_owned",
        "into_owned",
        "nrows",
        "ncols",
        "len",
        "shape",
        "iter",
        "as_slice",
        "symmetric_part",
        "unpack",
        "amax",
        "exp_mut",
        "fill_mut",
        "await",
        "r#try",
        "r#loop",
    ];
    known.chain(functions).chain(others).collect()
});

const ARGS_POOL: &[&str] = &[
    "()",
    "(&a, &b)",
    "(a, b, c)",
    "(x)",
    "(&x)",
    "(&&x)",
    "(&mut x)",
    "(*x)",
    "(x.clone())",
    "(2)",
    "(-1)",
    "(2.5)",
    "(99999999999999999999)",
    "(i32::MAX)",
    "(1e400)",
    "(f64::NAN)",
    "(\"msg\")",
    "(|v| v)",
    "(|a, b| a)",
    "(|| 1.0)",
    "(|_| 1.0)",
    "(|v: f64| -> f64 { v })",
    "(|(v)| v)",
    "(|(u, v)| u)",
    "(|&v| v)",
    "(|mut v| { v += 1.0; v })",
    "(|v| (|u| u)(v))",
    "(|v| v.map(|u| u))",
    "(|v| x.map(|u| u * v).sum())",
    "(|v| x)",
    "(|v| x.sum() * v)",
    "(|v| return v)",
    "(|v| v.frobnicate())",
    "(|v| { let t = v * v; t.exp() })",
    "(|v| if v > 0.0 { v } else { 0.0 })",
    "(move |v| v * 2.0)",
    "(async |v| v)",
    "(f64::exp)",
    "(Self::f)",
    "(x, )",
    "(,)",
    "(#[inline] x)",
    "(x = 1.0)",
    "(..)",
];

const LITERAL_POOL: &[&str] = &[
    "1e400",
    "-1e400",
    "1e-400",
    "0x1F",
    "0b101",
    "0o17",
    "1_000.5e-3f32",
    "1.0f64",
    "2f64",
    "1.",
    "'c'",
    "\"s\"",
    "b\"x\"",
    "b'x'",
    "r\"raw\"",
    "r#\"raw\"#",
    "c\"cstr\"",
    "1u8",
    "255u8",
    "256u8",
    "1i128",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "4294967296usize",
    "f64::NAN",
    "f64::INFINITY",
    "-f64::INFINITY",
    "f64::MAX",
    "f64::EPSILON",
    "-0.0",
    "0.0",
    "true",
    "()",
    "1.0e",
    "1e+5",
    "0.1e-1_0",
    "1_f64",
    "1__0.0_",
];

const STMT_POOL: &[&str] = &[
    "#[inline] let t = x;",
    "#[allow(unused)] let t = 1.0;",
    "#![allow(x)]",
    "#![allow(unused)] #![deny(warnings)]",
    "return x.norm();",
    "return;",
    "let _ = x?;",
    "x?;",
    "loop {}",
    "loop { break; }",
    "'a: { break 'a 1.0; }",
    "let t = 'b: { break 'b x; };",
    "let (a, b) = (x, x);",
    "let [p, q] = [1.0, 2.0];",
    "let mut z = x.clone(); z += 1.0;",
    "x = x;",
    "*x = 1.0;",
    "x.fill(0.0);",
    "x.transpose_mut();",
    ";",
    ";;",
    "{}",
    "{ x }",
    "unsafe { x.norm() };",
    "async { 1.0 };",
    "let t: f64;",
    "let t = x else { return 0.0; };",
    "let Some(t) = Some(1.0) else { return 0.0; };",
    "const C: f64 = 1.0;",
    "static S: f64 = 2.0;",
    "fn inner(x: f64) -> f64 { x }",
    "struct S;",
    "impl S {}",
    "use std::f64::consts::PI;",
    "macro_rules! m { () => { 1.0 } }",
    "m!();",
    "println!(\"{}\", x);",
    "let x = x;",
    "let x = 1.0;",
    "let w = 2.0;",
    "let x: DMatrix<f64> = x.clone();",
    "let x: f64 = 3.0;",
    "let s = s * s;",
    "drop(x);",
    "let r = &mut x;",
    "let t = &x; let u = &t;",
    "let f = |v: f64| v * 2.0;",
    "let g = x.map(|v| v);",
    "if x.norm() > 0.0 { return 1.0; }",
    "while false {}",
    "for i in 0..3 { let _ = i; }",
    "match x { _ => {} }",
    "let __mg_p0 = 1.0;",
    "let __mg_o0 = x;",
    "let __mg_l0 = 2.0;",
    "let r#loop = 1.0;",
    "let größe = x;",
    "let _ = { x };",
    "let _: () = ();",
    "let t = x.frobnicate();",
    "let t = (x, 1.0).0;",
    "let t = x[(0, 0)];",
    "let t = x as f64;",
    "yield 1.0;",
    "become f(x);",
    "let t = try { 1.0 };",
];

/// `(before, after)`: the tail expression `e` becomes `before e after`.
const WRAP_POOL: &[(&str, &str)] = &[
    ("(", ")"),
    ("-", ""),
    ("!", ""),
    ("*", ""),
    ("&", ""),
    ("&mut ", ""),
    ("{", "}"),
    ("#[inline] ", ""),
    ("#[inline] (", ")"),
    ("return ", ""),
    ("return ", ";"),
    ("(", ")?"),
    ("'a: {", "}"),
    ("'a: { break 'a ", "; }"),
    ("unsafe {", "}"),
    ("async {", "}"),
    ("async {", "}.await"),
    ("const {", "}"),
    ("if true {", "} else { 0.0 }"),
    ("if x.norm() > 0.0 {", "} else { 0.0 }"),
    ("(", ", 1.0).0"),
    ("[", "][0]"),
    ("(|| ", ")()"),
    ("(|v: f64| v)(", ")"),
    ("match 0 { _ => ", " }"),
    ("loop { break ", "; }"),
    ("Some(", ").unwrap()"),
    ("(", " as f64)"),
    ("(", ") as f32"),
    ("(", ") + 1e400"),
    ("(", ") * f64::NAN"),
    ("(", ").max(0.0)"),
    ("(", ").frobnicate()"),
    ("f(", ")"),
    ("Self::g(", ")"),
    ("(", ").0"),
    ("(", ")[0]"),
    ("(", ") = 1.0"),
    ("(", ") += 1.0"),
    ("(", ") .. 2.0"),
    ("(", ") == 0.0"),
    ("(", ") && true"),
    ("box ", ""),
    ("yield ", ""),
    ("m!(", ")"),
    ("", ";"),
    ("", ";;"),
    ("", "; 1.0"),
    ("let t = ", "; t"),
    ("let t = ", "; x.norm() + t"),
];

const QUALIFIER_POOL: &[&str] = &[
    "async",
    "const",
    "unsafe",
    "extern \"C\"",
    "extern",
    "const async unsafe extern \"C\"",
    "pub",
    "pub(crate)",
    "pub(super)",
    "pub(in crate::m)",
    "default",
    "safe",
    "#[inline]",
    "#[cfg(test)]",
    "#[cfg(any())]",
    "#[cfg_attr(test, inline)]",
    "#[doc = \"doc\"]",
    "#[doc = 1]",
    "/// doc",
    "/** block doc */",
    "#[must_use]",
    "#[gradient(wrt = x)]",
    "#[allow(clippy::all)]",
    "#![allow(x)]",
    "#[deprecated]",
    "#[export_name = \"f\"]",
];

const GENERICS_POOL: &[&str] = &[
    "<T>",
    "<T: Copy>",
    "<T: RealField + Copy>",
    "<T: nalgebra::RealField>",
    "<'a>",
    "<'a, T: 'a>",
    "<const N: usize>",
    "<const N: usize = 3>",
    "<T = f64>",
    "<>",
    "<T, U, V>",
    "<f64>",
    "<x>",
];

const WHERE_POOL: &[&str] = &[
    "where T: Copy",
    "where",
    "where f64: Copy,",
    "where T: RealField + Copy, T: Default",
    "where for<'a> &'a T: Copy",
    "where Self: Sized",
];

const PATTERN_POOL: &[&str] = &[
    "{n}",
    "mut {n}",
    "ref {n}",
    "ref mut {n}",
    "_",
    "({n}, {n}2)",
    "{n} @ _",
    "&{n}",
    "r#{n}",
    "#[cfg(any())] {n}",
    "#[allow(unused)] {n}",
    "[{n}, ..]",
    "{n}: {n}",
];

const TYPE_POOL: &[&str] = &[
    "f64",
    "f32",
    "&f64",
    "&DMatrix<f64>",
    "DMatrix<f64>",
    "&DVector<f64>",
    "DVector<f64>",
    "&RowDVector<f64>",
    "&Matrix2x3<f64>",
    "Matrix3<f64>",
    "&Vector3<f64>",
    "RowVector4<f64>",
    "SMatrix<f64, 3, 4>",
    "&SMatrix<f64, 3, 3>",
    "SMatrix<f64, 18446744073709551615, 18446744073709551615>",
    "SMatrix<f64, 4294967296, 4294967296>",
    "SMatrix<f64, 0, 0>",
    "SMatrix<f64, 0, 3>",
    "SVector<f64, {2}>",
    "SVector<f64, { 3 }>",
    "SRowVector<f64, 7>",
    "SMatrix<f64, N, N>",
    "SMatrix<f64>",
    "SMatrix<f64, 3>",
    "SMatrix<f64, -1, 2>",
    "SMatrix<f64, 1e3, 2>",
    "Matrix7x9<f64>",
    "Matrix0<f64>",
    "Vector0<f64>",
    "Vector18446744073709551616<f64>",
    "Matrix<f64, U2, U3, ArrayStorage<f64, 2, 3>>",
    "OMatrix<f64, U3, U4>",
    "OMatrix<f64, U0, U99999999999999999999>",
    "DMatrix<f32>",
    "DMatrix<T>",
    "&DMatrix<T>",
    "T",
    "&T",
    "&mut DMatrix<f64>",
    "&&DMatrix<f64>",
    "&'a DMatrix<f64>",
    "&'static f64",
    "Box<DMatrix<f64>>",
    "(f64, f64)",
    "(f64)",
    "((DMatrix<f64>))",
    "[f64; 3]",
    "impl Fn(f64) -> f64",
    "dyn Fn()",
    "_",
    "!",
    "Self",
    "<f64 as Trait>::Out",
    "nalgebra::DMatrix<f64>",
    "::nalgebra::DVector<f64>",
    "DMatrix",
    "DMatrix<>",
    "DMatrix<f64, f64>",
    "DMatrix<'a>",
    "MatrixView<f64, Dyn, Dyn>",
    "fn(f64) -> f64",
    "usize",
    "i32",
    "&str",
    "U3",
    "f64::Output",
];

const RETURN_POOL: &[&str] = &[
    "",
    "-> f32",
    "-> ()",
    "-> Self",
    "-> impl Into<f64>",
    "-> !",
    "-> DMatrix<f64>",
    "-> (f64)",
    "-> &'static f64",
    "-> T",
    "-> f64 where T: Copy",
    "-> Result<f64, ()>",
    "-> (f64, f64)",
    "-> _",
    "->",
];

const NAME_POOL: &[&str] = &[
    "r#loop",
    "r#foo",
    "r#fn",
    "r#match",
    "größe",
    "_f",
    "F",
    "ǅ",
    "ŉ",
    "ß",
    "_",
    "f_grad",
    "F_GRAD_FORMULA",
    "main",
    "self",
    "a1",
    "__mg_p0",
    "matgrad",
    "ﬀ",
    "ı",
];

/// `(name, type)` parameters of random functions.
const RANDOM_PARAMS: &[(&str, &str)] = &[
    ("x", "&DMatrix<f64>"),
    ("m", "DMatrix<f64>"),
    ("w", "&DVector<f64>"),
    ("y", "DVector<f64>"),
    ("r", "&RowDVector<f64>"),
    ("s", "f64"),
    ("t", "f64"),
    ("a", "&Matrix2x3<f64>"),
    ("v3", "&Vector3<f64>"),
    ("q", "SMatrix<f64, 3, 3>"),
    ("k", "usize"),
    ("g", "&DMatrix<T>"),
    ("h", "f32"),
    ("z", "&SMatrix<f64, 4294967296, 4294967296>"),
    ("e", "SMatrix<f64, 0, 0>"),
    ("c", "RowVector4<f64>"),
];

/// Expression templates of random bodies: `{a}`, `{b}` sub-expressions, `{c}` a closure body.
const EXPR_TEMPLATES: &[&str] = &[
    "({a} + {b})",
    "({a} - {b})",
    "({a} * {b})",
    "({a} / {b})",
    "({a} % {b})",
    "-{a}",
    "!{a}",
    "&{a}",
    "({a}).clone()",
    "{a}.transpose()",
    "{a}.trace()",
    "{a}.sum()",
    "{a}.norm()",
    "{a}.norm_squared()",
    "{a}.determinant()",
    "{a}.clone().try_inverse().unwrap()",
    "{a}.try_inverse().expect(\"inv\")",
    "{a}.try_inverse()",
    "{a}.dot(&{b})",
    "{a}.dot({b})",
    "{a}.component_mul(&{b})",
    "{a}.component_div(&{b})",
    "{a}.kronecker(&{b})",
    "{a}.tr_mul(&{b})",
    "{a}.clone().lu().solve(&{b}).unwrap()",
    "{a}.lu().solve({b}).expect(\"lu\")",
    "{a}.lu().determinant()",
    "{a}.lu().frobnicate()",
    "{a}.clone().cholesky().unwrap().l()",
    "{a}.clone().cholesky().unwrap().solve(&{b})",
    "{a}.cholesky().unwrap().inverse()",
    "{a}.cholesky().expect(\"spd\").determinant()",
    "{a}.cholesky().unwrap().ln_determinant()",
    "{a}.cholesky().unwrap().l_dirty()",
    "{a}.cholesky()",
    "{a}.solve_lower_triangular(&{b}).unwrap()",
    "{a}.solve_upper_triangular({b}).unwrap()",
    "{a}.solve_lower_triangular(&{b})",
    "{a}.row_sum()",
    "{a}.column_sum()",
    "{a}.row_mean()",
    "{a}.column_mean()",
    "{a}.diagonal()",
    "DMatrix::from_diagonal(&{a})",
    "DMatrix::from_diagonal({a}, {b})",
    "{a}.max()",
    "{a}.min()",
    "{a}.column(0)",
    "{a}.column({b})",
    "{a}.row(1)",
    "{a}.rows(0, 2)",
    "{a}.columns(1, 1)",
    "{a}.view((0, 0), (1, 1))",
    "{a}.view((0, 0))",
    "{a}.view(0, 1)",
    "{a}.fixed_rows::<1>(0)",
    "{a}.fixed_view::<1, 1>(0, 0)",
    "{a}.fixed_view::<1>(0, 0)",
    "{a}.xy()",
    "{a}.normalize()",
    "{a}.cross(&{b})",
    "DVector::from_element({a}.len(), 1.0) * {b}",
    "DVector::from_element(3, 1.0)",
    "RowDVector::from_element(2, 1.0)",
    "DMatrix::from_element(2, 2, 1.0)",
    "DVector::repeat(4, 1.0)",
    "{a}.add_scalar({b})",
    "{a}.map(|v| {c})",
    "{a}.map(|v: f64| {c})",
    "{a}.map(|_| {c})",
    "{a}.map(|v| (|u| u)(v))",
    "{a}.map(|v, u| v)",
    "{a}.map()",
    "{a}.map(f64::exp)",
    "{a}.map(|v| {a})",
    "{a}.map(|v| v.map(|u| u))",
    "{a}.map(|v| {b}.map(|u| u * v).sum())",
    "{a}.exp()",
    "{a}.ln()",
    "{a}.ln_1p()",
    "{a}.powi(2)",
    "{a}.powi(-3)",
    "{a}.powi(99999999999)",
    "{a}.powi(-2147483648)",
    "{a}.powi(2147483647)",
    "{a}.powi(0)",
    "{a}.powi(--1)",
    "{a}.powf(-1e400)",
    "{a}.kronecker(&{a})",
    "{a}.kronecker(&DMatrix::identity(4294967296, 4294967296))",
    "{a}.powi({b})",
    "{a}.powf({b})",
    "{a}.powf(0.5)",
    "{a}.sqrt()",
    "{a}.abs()",
    "{a}.recip()",
    "{a}.tanh()",
    "{a}.sin()",
    "{a}[(0, 1)]",
    "{a}[(1, 0)]",
    "{a}[0]",
    "{a}[(k, 0)]",
    "{a}[(usize::MAX, 0)]",
    "{a}[(-1, 0)]",
    "{a}[(0, 1, 2)]",
    "{a}[(5, 7)]",
    "{a}[9]",
    "{a}[({b} as usize, 0)]",
    "{a}.frobnicate()",
    "f64::exp({a})",
    "f64::powi({a}, 2)",
    "f32::ln({a})",
    "{a}.len() as f64",
    "{a}.nrows() as f64",
    "({a}.ncols() as f64)",
    "{a} as f64",
    "{a} as usize",
    "{a}.max({b})",
    "if {a} > {b} {{ {a} }} else {{ {b} }}",
    "{{ let z = {a}; z }}",
    "{{ let z = {a}; z + {b} }}",
    "{a}?",
    "({a}, {b}).0",
    "[{a}][0]",
    "DMatrix::identity({a}.nrows(), {b}.ncols())",
    "DMatrix::<f64>::identity(2, 2)",
    "DMatrix::identity(-1, 3)",
    "DMatrix::identity(99999999999999999999, 1)",
    "DMatrix::identity(k, k)",
    "OMatrix::identity(3, 3)",
    "nalgebra::convert::<f64, f64>(0.5)",
    "nalgebra::convert::<f64, f64>({a})",
    "convert(1e400)",
    "{a}.symmetric_part()",
    "{a}.exp_mut()",
    "loop {{ break {a}; }}",
    "m!({a})",
    "f({a}, {b})",
];

const LEAF_EXTRAS: &[&str] = &[
    "1.0",
    "2.5",
    "0.0",
    "-1.0",
    "3",
    "1e400",
    "f64::NAN",
    "0x1F",
    "1_000.5e-3f32",
    "'c'",
    "\"s\"",
    "b\"x\"",
    "1u8",
    "DMatrix::identity(3, 3)",
    "DMatrix::identity(2, 3)",
    "DVector::zeros(3)",
    "x.nrows() as f64",
    "self",
    "Self::K",
    "unknown",
    "__mg_p0",
];

const SCALAR_CLOSURE_TEMPLATES: &[&str] = &[
    "v",
    "v * v",
    "v.exp()",
    "v.ln_1p()",
    "(1.0 + v * v).sqrt().recip()",
    "v.abs().powf(2.5)",
    "v.powi(3)",
    "v.powi(-2147483648)",
    "v.powi(i32::MIN)",
    "v.powi(0)",
    "(s * v).cos()",
    "v / t",
    "v.tanh() - 1.0",
    "1.0",
    "s",
    "v.frobnicate()",
    "v.atan()",
    "v.max(0.0)",
    "if v > 0.0 { v } else { 0.0 }",
    "{ let u = v * 2.0; u.exp() }",
    "v.map(|u| u)",
    "x",
    "x.sum() * v",
    "return v",
    "v?",
    "-v",
    "!v",
    "v as f64",
    "f64::exp(v)",
];

// ---- one case ----------------------------------------------------------------------------------

/// One input: the attribute's and the item's tokens, or the source text that did not lex.
struct Case {
    /// Which generator made it, for the tally.
    kind: &'static str,
    what: String,
    attr: Result<TokenStream, String>,
    item: Result<TokenStream, String>,
}

impl Case {
    fn from_text(what: impl Into<String>, attr: &str, item: &str) -> Case {
        Case {
            kind: "fixed",
            what: what.into(),
            attr: attr.parse().map_err(|_| attr.to_string()),
            item: item.parse().map_err(|_| item.to_string()),
        }
    }
}

fn corpus_tokens(i: usize) -> Vec<Tok> {
    frag(CORPUS[i].1)
}

/// A random `wrt` attribute, most often one naming some of `names`.
fn random_attr(rng: &mut Rng, names: &[String]) -> String {
    match rng.below(10) {
        0..=2 => rng.pick(ODD_ATTRS).to_string(),
        3 => {
            // A few random tokens.
            let n = rng.below(5);
            (0..n)
                .map(|_| *rng.pick(TOKEN_POOL))
                .collect::<Vec<_>>()
                .join(" ")
        }
        _ => {
            let mut chosen: Vec<String> = Vec::new();
            for _ in 0..=rng.below(3) {
                let name = if names.is_empty() || rng.percent(15) {
                    rng.pick(IDENT_POOL).to_string()
                } else {
                    rng.pick(names).clone()
                };
                chosen.push(name);
            }
            let list = chosen.join(", ");
            let wrt = match rng.below(6) {
                0 => format!("wrt = ({list})"),
                1 => format!("wrt = ({list},)"),
                2 if chosen.len() == 1 => format!("wrt = {list}"),
                3 => format!("wrt = ({list}), wrt = {}", chosen[0]),
                _ if chosen.len() == 1 => format!("wrt = {list}"),
                _ => format!("wrt = ({list})"),
            };
            with_hessian(rng, wrt)
        }
    }
}

/// Sometimes, the `hessian` option too.
fn with_hessian(rng: &mut Rng, wrt: String) -> String {
    match rng.below(8) {
        0 | 1 => format!("{wrt}, hessian"),
        2 => format!("hessian, {wrt}"),
        _ => wrt,
    }
}

/// A token-level mutation: anywhere, of anything.
fn token_mutation(rng: &mut Rng, v: &mut Vec<Tok>) -> &'static str {
    match rng.below(8) {
        0 => {
            let n = count(v);
            let mut budget = rng.below(n + 1);
            *v = truncate(v, &mut budget);
            "truncated"
        }
        1 => {
            let p = random_container(rng, v);
            let c = container(v, &p);
            if !c.is_empty() {
                let i = rng.below(c.len());
                c.remove(i);
            }
            "token deleted"
        }
        2 => {
            let p = random_container(rng, v);
            let c = container(v, &p);
            if !c.is_empty() {
                let i = rng.below(c.len());
                let t = c[i].clone();
                c.insert(i, t);
            }
            "token duplicated"
        }
        3 => {
            let p = random_container(rng, v);
            let c = container(v, &p);
            if !c.is_empty() {
                let (i, j) = (rng.below(c.len()), rng.below(c.len()));
                c.swap(i, j);
            }
            "tokens swapped"
        }
        4 => {
            let p = random_container(rng, v);
            let new = frag(rng.pick_str(TOKEN_POOL));
            let c = container(v, &p);
            let i = rng.below(c.len() + 1);
            c.splice(i..i, new);
            "token inserted"
        }
        5 => {
            let p = random_container(rng, v);
            let new = frag(rng.pick_str(IDENT_POOL));
            let c = container(v, &p);
            let idents: Vec<usize> = (0..c.len())
                .filter(|&i| matches!(c[i], Tok::Leaf(TokenTree::Ident(_))))
                .collect();
            if !idents.is_empty() {
                let i = *rng.pick(&idents);
                c.splice(i..=i, new);
            }
            "identifier replaced"
        }
        6 => {
            // Wrap a range of tokens in a group: invisible (as from `macro_rules!`), or not.
            let p = random_container(rng, v);
            let d = *rng.pick(&[
                Delimiter::None,
                Delimiter::None,
                Delimiter::Parenthesis,
                Delimiter::Bracket,
                Delimiter::Brace,
            ]);
            let c = container(v, &p);
            let i = rng.below(c.len() + 1);
            let j = i + rng.below(c.len() - i + 1);
            let inner: Vec<Tok> = c.drain(i..j).collect();
            c.insert(i, Tok::Group(d, inner));
            "range grouped"
        }
        _ => {
            // Change a group's delimiter, or dissolve the group into its contents.
            let mut groups = Vec::new();
            containers(v, &mut Vec::new(), &mut groups);
            groups.retain(|p| !p.is_empty());
            if groups.is_empty() {
                return "no group to change";
            }
            let p = rng.pick(&groups).clone();
            let (last, parent) = p
                .split_last()
                .map(|(l, r)| (*l, r.to_vec()))
                .unwrap_or((0, vec![]));
            let c = container(v, &parent);
            if let Tok::Group(d, inner) = c[last].clone() {
                if rng.percent(30) {
                    c.splice(last..=last, inner);
                } else {
                    let nd = *rng.pick(&[
                        Delimiter::None,
                        Delimiter::Parenthesis,
                        Delimiter::Bracket,
                        Delimiter::Brace,
                    ]);
                    c[last] = Tok::Group(if nd == d { Delimiter::None } else { nd }, inner);
                }
            }
            "group changed"
        }
    }
}

/// A mutation that knows what a function looks like.
fn targeted_mutation(rng: &mut Rng, v: &mut Vec<Tok>) -> &'static str {
    let Some(Parts {
        fn_kw,
        params,
        body,
    }) = parts(v)
    else {
        return token_mutation(rng, v);
    };
    match rng.below(12) {
        0 => {
            // Rename a method, or change its arguments.
            let mut sites = Vec::new();
            let mut all = Vec::new();
            containers(v, &mut Vec::new(), &mut all);
            for p in &all {
                let c = container(v, p);
                for i in 1..c.len().saturating_sub(1) {
                    if is_punct(&c[i - 1], '.')
                        && matches!(c[i], Tok::Leaf(TokenTree::Ident(_)))
                        && is_group(&c[i + 1], Delimiter::Parenthesis)
                    {
                        sites.push((p.clone(), i));
                    }
                }
            }
            if sites.is_empty() {
                return token_mutation(rng, v);
            }
            let (p, i) = rng.pick(&sites).clone();
            let rename = rng.percent(50);
            let new = if rename {
                frag(rng.pick_str(&METHOD_POOL))
            } else {
                frag(rng.pick_str(ARGS_POOL))
            };
            let c = container(v, &p);
            let at = if rename { i } else { i + 1 };
            c.splice(at..=at, new);
            if rename {
                "method renamed"
            } else {
                "method arguments changed"
            }
        }
        1 => {
            // Replace a literal or a name in the body by an odd literal.
            let Some(b) = group_contents(v, body) else {
                return "no body";
            };
            let mut all = Vec::new();
            containers(b, &mut Vec::new(), &mut all);
            let mut sites = Vec::new();
            for p in &all {
                let c = container(b, p);
                for (i, t) in c.iter().enumerate() {
                    if matches!(
                        t,
                        Tok::Leaf(TokenTree::Literal(_)) | Tok::Leaf(TokenTree::Ident(_))
                    ) {
                        sites.push((p.clone(), i));
                    }
                }
            }
            if sites.is_empty() {
                return "nothing to replace";
            }
            let (p, i) = rng.pick(&sites).clone();
            let new = frag(rng.pick_str(LITERAL_POOL));
            container(b, &p).splice(i..=i, new);
            "odd literal"
        }
        2 => {
            // A statement at a statement boundary.
            let new = frag(rng.pick_str(STMT_POOL));
            let Some(b) = group_contents(v, body) else {
                return "no body";
            };
            let mut at: Vec<usize> = vec![0];
            at.extend(
                (0..b.len())
                    .filter(|&i| is_punct(&b[i], ';'))
                    .map(|i| i + 1),
            );
            let i = *rng.pick(&at);
            b.splice(i..i, new);
            "statement inserted"
        }
        3 => {
            // Wrap the tail expression.
            let (before, after) = *rng.pick(WRAP_POOL);
            let depth = if rng.percent(10) {
                1 + rng.below(40)
            } else {
                1
            };
            let Some(b) = group_contents(v, body) else {
                return "no body";
            };
            let start = (0..b.len())
                .rev()
                .find(|&i| is_punct(&b[i], ';'))
                .map_or(0, |i| i + 1);
            let mut tail = stream(&b[start..]).to_string();
            for _ in 0..depth {
                tail = format!("{before} {tail} {after}");
            }
            let Some(new) = try_frag(&tail) else {
                return "tail not wrapped (would not lex)";
            };
            b.splice(start.., new);
            "tail wrapped"
        }
        4 => {
            // Replace the whole body.
            let new = *rng.pick(&[
                "",
                ";",
                "x",
                "x.norm()",
                "1.0",
                "loop {}",
                "return;",
                "return 1.0",
                "todo!()",
                "unimplemented!()",
                "'a: { break 'a 1.0 }",
                "#![allow(x)]",
                "#![allow(x)] x.norm()",
                "x.norm();",
                "{ x.norm() }",
                "let t = x.norm();",
                "self.x",
                "Self::f(x)",
                "x.norm() x.norm()",
                ",",
            ]);
            v[body] = Tok::Group(Delimiter::Brace, frag(new));
            "body replaced"
        }
        5 => {
            // Qualifiers and attributes before `fn`.
            let new = frag(rng.pick_str(QUALIFIER_POOL));
            let at = if rng.percent(50) { fn_kw } else { 0 };
            v.splice(at..at, new);
            "qualifier added"
        }
        6 => {
            // Generics, or a where clause.
            if rng.percent(60) {
                let new = frag(rng.pick_str(GENERICS_POOL));
                v.splice(fn_kw + 2..fn_kw + 2, new);
            } else {
                let new = frag(rng.pick_str(WHERE_POOL));
                v.splice(body..body, new);
            }
            "generics added"
        }
        7 => {
            // A receiver.
            let recv = *rng.pick(&[
                "self",
                "&self",
                "&mut self",
                "mut self",
                "self: Box<Self>",
                "self: &Self",
                "&'a self",
            ]);
            let Some(p) = group_contents(v, params) else {
                return "no parameters";
            };
            let mut new = frag(recv);
            if rng.percent(70) && !p.is_empty() {
                new.extend(frag(","));
                p.splice(0..0, new);
            } else if p.is_empty() {
                *p = new;
            } else {
                p.extend(frag(","));
                p.extend(new);
            }
            "receiver added"
        }
        8 => {
            // Rewrite the parameters: the same names, other patterns and types.
            let Some(p) = group_contents(v, params) else {
                return "no parameters";
            };
            let names = param_names(p);
            let mut out = Vec::new();
            for n in &names {
                if rng.percent(10) {
                    continue;
                }
                let pat = if rng.percent(40) {
                    rng.pick(PATTERN_POOL).replace("{n}", n)
                } else {
                    n.clone()
                };
                let ty = *rng.pick(TYPE_POOL);
                out.push(format!("{pat}: {ty}"));
                if rng.percent(5) {
                    out.push(format!("{n}: f64"));
                }
            }
            if rng.percent(10) {
                out.push("...".to_string());
            }
            let Some(new) = try_frag(&out.join(", ")) else {
                return "parameters not rewritten (would not lex)";
            };
            *p = new;
            "parameters rewritten"
        }
        9 => {
            // The return type.
            let new = frag(rng.pick_str(RETURN_POOL));
            v.splice(params + 1..body, new);
            "return type changed"
        }
        10 => {
            // The name.
            let new = frag(rng.pick_str(NAME_POOL));
            v.splice(fn_kw + 1..=fn_kw + 1, new);
            "function renamed"
        }
        _ => {
            // One parameter's type.
            let Some(p) = group_contents(v, params) else {
                return "no parameters";
            };
            let colons: Vec<usize> = (0..p.len()).filter(|&i| is_punct(&p[i], ':')).collect();
            if colons.is_empty() {
                return "no typed parameter";
            }
            let c = *rng.pick(&colons);
            let end = (c + 1..p.len())
                .find(|&i| is_punct(&p[i], ','))
                .unwrap_or(p.len());
            let new = frag(rng.pick_str(TYPE_POOL));
            p.splice(c + 1..end, new);
            "parameter type changed"
        }
    }
}

/// A random expression over `names`, `depth` deep at most.
fn random_expr(rng: &mut Rng, names: &[&str], depth: usize) -> String {
    if depth == 0 || rng.percent(25) {
        return if rng.percent(80) && !names.is_empty() {
            rng.pick(names).to_string()
        } else {
            rng.pick(LEAF_EXTRAS).to_string()
        };
    }
    let t = *rng.pick(EXPR_TEMPLATES);
    let mut out = t.to_string();
    if out.contains("{a}") {
        let a = random_expr(rng, names, depth - 1);
        out = out.replace("{a}", &a);
    }
    if out.contains("{b}") {
        let b = random_expr(rng, names, depth - 1);
        out = out.replace("{b}", &b);
    }
    if out.contains("{c}") {
        let c = if rng.percent(70) {
            rng.pick(SCALAR_CLOSURE_TEMPLATES).to_string()
        } else {
            let mut inner: Vec<&str> = names.to_vec();
            inner.push("v");
            inner.push("v");
            random_expr(rng, &inner, depth.min(3) - 1)
        };
        out = out.replace("{c}", &c);
    }
    out.replace("{{", "{").replace("}}", "}")
}

/// A random function over the whole operation set, supported or not, well-shaped or not.
fn random_function(rng: &mut Rng) -> (String, String) {
    let mut params: Vec<(&str, &str)> = Vec::new();
    for _ in 0..1 + rng.below(4) {
        let p = *rng.pick(RANDOM_PARAMS);
        if !params.iter().any(|q| q.0 == p.0) {
            params.push(p);
        }
    }
    let mut names: Vec<&str> = params.iter().map(|p| p.0).collect();
    let mut body = String::new();
    let lets = ["l0", "l1", "l2"];
    for l in lets.iter().take(rng.below(4)) {
        let e = random_expr(rng, &names, 3);
        if rng.percent(20) {
            let ty = *rng.pick(TYPE_POOL);
            body.push_str(&format!("let {l}: {ty} = {e}; "));
        } else {
            body.push_str(&format!("let {l} = {e}; "));
        }
        names.push(l);
    }
    body.push_str(&random_expr(rng, &names, 5));
    let generics = if params.iter().any(|p| p.1.contains('T')) {
        "<T: RealField + Copy>"
    } else {
        ""
    };
    let list: Vec<String> = params.iter().map(|(n, t)| format!("{n}: {t}")).collect();
    let ret = if rng.percent(90) { "f64" } else { "f32" };
    let item = format!(
        "fn random{generics}({}) -> {ret} {{ {body} }}",
        list.join(", ")
    );
    let param_names: Vec<String> = params.iter().map(|p| p.0.to_string()).collect();
    let attr = if rng.percent(85) {
        let mut chosen: Vec<&str> = Vec::new();
        for p in &param_names {
            if rng.percent(50) {
                chosen.push(p);
            }
        }
        if chosen.is_empty() {
            chosen.push(&param_names[0]);
        }
        let wrt = if chosen.len() == 1 {
            format!("wrt = {}", chosen[0])
        } else {
            format!("wrt = ({})", chosen.join(", "))
        };
        with_hessian(rng, wrt)
    } else {
        random_attr(rng, &param_names)
    };
    (attr, item)
}

/// The random case of a seed.
fn random_case(seed: u64) -> Case {
    let mut rng = Rng::salted(seed);
    let kind = rng.below(100);
    if kind < 18 {
        let (attr, item) = random_function(&mut rng);
        return Case {
            kind: "random functions",
            ..Case::from_text("random function", &attr, &item)
        };
    }
    let k = rng.below(CORPUS.len());
    let mut v = corpus_tokens(k);
    let names = parts(&v)
        .and_then(|p| match &v[p.params] {
            Tok::Group(_, inner) => Some(param_names(inner)),
            _ => None,
        })
        .unwrap_or_default();
    let mut what = vec![format!("corpus #{k}")];
    if kind < 23 {
        what.push("as written".into());
    } else {
        for _ in 0..1 + rng.below(3) {
            let m = if kind < 55 {
                token_mutation(&mut rng, &mut v)
            } else {
                targeted_mutation(&mut rng, &mut v)
            };
            what.push(m.into());
        }
    }
    let attr = if kind < 23 || rng.percent(25) {
        random_attr(&mut rng, &names)
    } else {
        with_hessian(&mut rng, CORPUS[k].0.to_string())
    };
    let mut attr_tokens: Result<TokenStream, String> = attr.parse().map_err(|_| attr.clone());
    if rng.percent(5) {
        if let Ok(a) = &attr_tokens {
            let mut av = toks(a.clone());
            what.push(format!("attribute {}", token_mutation(&mut rng, &mut av)));
            attr_tokens = Ok(stream(&av));
        }
    }
    Case {
        kind: match kind {
            0..=22 => "corpus, random attributes",
            23..=54 => "token mutations",
            _ => "targeted mutations",
        },
        what: what.join(", "),
        attr: attr_tokens,
        item: Ok(stream(&v)),
    }
}

/// Inputs that are large rather than odd: deep nesting, long sums, long chains. They run in a
/// child process (`stress_inputs_do_not_crash`), since a stack overflow aborts the process.
fn stress_cases() -> Vec<Case> {
    let mut out = Vec::new();
    let f = |body: String| format!("fn f(x: &DMatrix<f64>, s: f64) -> f64 {{ {body} }}");
    let mut add = |what: String, attr: &str, item: String| {
        out.push(Case::from_text(what, attr, &item));
    };
    for depth in [200, 256, 400, 1000] {
        let (open, close) = ("(".repeat(depth), ")".repeat(depth));
        add(
            format!("parens {depth} deep"),
            "wrt = x",
            f(format!("{open}x.norm(){close}")),
        );
        add(
            format!("blocks {depth} deep"),
            "wrt = x",
            f(format!(
                "{}x.norm(){}",
                "{ ".repeat(depth),
                " }".repeat(depth)
            )),
        );
    }
    for depth in [200, 400] {
        let (open, close) = ("(".repeat(depth), ")".repeat(depth));
        add(
            format!("parens {depth} deep around the variables"),
            "wrt = (x, s)",
            f(format!("{open}x{close}.norm() * {open}s{close}")),
        );
        add(
            format!("parens {depth} deep in the attribute"),
            &format!("wrt = {open}x{close}"),
            f("x.norm()".into()),
        );
        add(
            format!("parens {depth} deep in a map closure"),
            "wrt = x",
            f(format!("x.map(|v| {open}v * s{close}).sum()")),
        );
    }
    for depth in [500, 2000] {
        add(
            format!("{depth} unary minus"),
            "wrt = (x, s)",
            f(format!("{}s * x.norm()", "- ".repeat(depth))),
        );
        add(
            format!("{depth} clones and references"),
            "wrt = x",
            f(format!(
                "{}x{}.norm()",
                "&".repeat(depth),
                ".clone()".repeat(depth)
            )),
        );
    }
    for n in [500, 1000] {
        add(
            format!("{n} transposes"),
            "wrt = x",
            f(format!("x{}.sum()", ".transpose()".repeat(n))),
        );
    }
    for terms in [1000, 1500, 3000] {
        let sum: Vec<String> = (0..terms)
            .map(|i| format!("x[({}, {})]", i % 7, i % 5))
            .collect();
        add(
            format!("{terms} terms of `+`"),
            "wrt = x",
            f(sum.join(" + ")),
        );
    }
    let same: Vec<&str> = (0..1000).map(|_| "x.norm()").collect();
    add(
        "1000 equal terms of `+`".into(),
        "wrt = (x, s)",
        f(format!("{} + s", same.join(" + "))),
    );
    let mixed: Vec<String> = (0..1000)
        .map(|i| match i % 4 {
            0 => format!("{i}.0 * s"),
            1 => "x.sum()".to_string(),
            2 => format!("(s - {i}.5).powi(2)"),
            _ => "x.map(|v| v * s).sum()".to_string(),
        })
        .collect();
    add(
        "1000 mixed terms of `+` and `-`".into(),
        "wrt = (x, s)",
        f(mixed.join(" - ")),
    );
    for n in [300, 1000] {
        add(
            format!("{n} scalar factors"),
            "wrt = s",
            f(vec!["s"; n].join(" * ")),
        );
        add(
            format!("{n} matrix factors"),
            "wrt = x",
            f(format!("({}).sum()", vec!["x"; n].join(" * "))),
        );
        let lets: String = (1..n)
            .map(|i| format!("let t{i} = &t{} + x; ", i - 1))
            .collect();
        add(
            format!("{n} chained lets"),
            "wrt = x",
            f(format!(
                "let t0 = x.clone(); {lets} t{}.norm_squared()",
                n - 1
            )),
        );
        let mut maps = "x".to_string();
        for _ in 0..n {
            maps = format!("{maps}.map(|v| v.sin())");
        }
        add(
            format!("{n} chained maps"),
            "wrt = x",
            f(format!("{maps}.sum()")),
        );
    }
    let squares: String = (1..40)
        .map(|i| format!("let t{i} = &t{} * &t{}; ", i - 1, i - 1))
        .collect();
    add(
        "40 repeated squarings (a deep shared graph)".into(),
        "wrt = x",
        f(format!("let t0 = x.clone(); {squares} t39.sum()")),
    );
    let scalar_squares: String = (1..60)
        .map(|i| format!("let t{i} = t{} * t{} + s; ", i - 1, i - 1))
        .collect();
    add(
        "60 repeated scalar squarings".into(),
        "wrt = s",
        f(format!("let t0 = s; {scalar_squares} t59")),
    );
    let params: Vec<String> = (0..300).map(|i| format!("p{i}: f64")).collect();
    let names: Vec<String> = (0..300).map(|i| format!("p{i}")).collect();
    add(
        "300 parameters, all variables".into(),
        &format!("wrt = ({})", names.join(", ")),
        format!(
            "fn f({}) -> f64 {{ {} }}",
            params.join(", "),
            names.join(" * ")
        ),
    );
    for depth in [200, 1000] {
        let mut nested = frag("x.norm()");
        for _ in 0..depth {
            nested = vec![Tok::Group(Delimiter::None, nested)];
        }
        let mut item = frag("fn f(x: &DMatrix<f64>) -> f64 {}");
        if let Some(last) = item.last_mut() {
            *last = Tok::Group(Delimiter::Brace, nested);
        }
        out.push(Case {
            kind: "stress",
            what: format!("invisible groups {depth} deep"),
            attr: Ok(frag_stream("wrt = x")),
            item: Ok(stream(&item)),
        });
    }
    out
}

// ---- the check ---------------------------------------------------------------------------------

thread_local! {
    /// Whether this thread's panics are being caught by `check` (and should not be printed).
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    /// Whether `check` prints the stage it is in (in the stress child).
    static STAGES: Cell<bool> = const { Cell::new(false) };
    /// The last caught panic: message and location (and engine frames, the first time).
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Panic locations already seen, so that the backtrace is taken once per location.
    static SEEN: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

/// A panic hook that records the panics of threads inside `check` and hands every other panic
/// to the hook that was there before.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CAPTURING.with(Cell::get) {
                return previous(info);
            }
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(non-string payload)".to_string());
            let loc = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            let mut text = format!("panicked at {loc}: {msg}");
            if SEEN.with(|s| s.borrow_mut().insert(loc.clone())) {
                text.push_str(&engine_frames());
            }
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
        }));
    });
}

/// The innermost frames of the engine on the current stack, for the report.
fn engine_frames() -> String {
    let bt = std::backtrace::Backtrace::force_capture().to_string();
    let frames: Vec<&str> = bt
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("at ") && l.contains("src/"))
        .filter(|l| !l.contains("/rustc/") && !l.contains(".cargo") && !l.contains("tests/"))
        .take(4)
        .collect();
    if frames.is_empty() {
        String::new()
    } else {
        format!(" [engine frames: {}]", frames.join(" <- "))
    }
}

/// What one expansion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Generated items, no errors.
    Expanded,
    /// Compile errors (and the function, if it was one).
    Errors,
    /// The item itself is not a file, and the output neither: nothing to require but no panic.
    Unparsable,
    /// Nested too deeply for this test to parse (syn would overflow the stack, here, in the
    /// test): nothing to require but no panic.
    TooDeep,
}

/// How deeply groups may nest in an input that `check` parses with syn itself (in a debug
/// build on an 8 MiB stack, syn overflows somewhere between 400 and 1000 levels).
const CHECK_MAX_DEPTH: usize = 450;

/// How deeply groups nest in `ts`, without recursion.
fn group_depth(ts: &TokenStream) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(ts.clone(), 1usize)];
    while let Some((s, d)) = stack.pop() {
        for tt in s {
            if let TokenTree::Group(g) = tt {
                deepest = deepest.max(d);
                stack.push((g.stream(), d + 1));
            }
        }
    }
    deepest
}

/// Whether `ts` holds a `compile_error!` invocation at its top level.
fn has_compile_error(ts: &TokenStream) -> bool {
    let v: Vec<TokenTree> = ts.clone().into_iter().collect();
    v.windows(2).any(|w| {
        matches!((&w[0], &w[1]), (TokenTree::Ident(i), TokenTree::Punct(p)) if i == "compile_error" && p.as_char() == '!')
    })
}

/// In the stress child: name the stage about to run, so that a stack overflow can be placed.
fn stage(name: &str) {
    use std::io::Write;
    if STAGES.with(Cell::get) {
        let mut out = std::io::stdout();
        let _ = writeln!(out, "ROBUST-STAGE {name}");
        let _ = out.flush();
    }
}

/// Expand once; `Err` describes a panic or output that is not well-formed.
fn check(attr: &TokenStream, item: &TokenStream) -> Result<Outcome, String> {
    // Items, one after another (a file's inner attributes can only come first, so an item
    // that starts with `#![..]` cannot be followed by anything, nor follow compile errors;
    // rustc never hands a macro such an item).
    let deep = group_depth(item).max(group_depth(attr)) > CHECK_MAX_DEPTH;
    stage("parse the item");
    let parsed = if deep {
        None
    } else {
        syn::parse2::<syn::File>(item.clone()).ok()
    };
    let item_is_items = parsed.as_ref().is_some_and(|f| f.attrs.is_empty());
    let original = match parsed {
        Some(syn::File { attrs, items, .. }) if attrs.is_empty() && items.len() == 1 => {
            match items.into_iter().next() {
                Some(syn::Item::Fn(f)) => Some(f),
                _ => None,
            }
        }
        _ => None,
    };
    stage("expand");
    CAPTURING.with(|c| c.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        crate::expand_gradient(attr.clone(), item.clone())
    }));
    CAPTURING.with(|c| c.set(false));
    stage("parse the output");
    let out = match result {
        Ok(out) => out,
        Err(_) => {
            let msg = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| "panicked (no message)".to_string());
            return Err(msg);
        }
    };
    let errors = has_compile_error(&out);
    if deep {
        return Ok(Outcome::TooDeep);
    }
    let file = match syn::parse2::<syn::File>(out.clone()) {
        Ok(file) => file,
        Err(e) if errors && !item_is_items => {
            let _ = e;
            return Ok(Outcome::Unparsable);
        }
        Err(e) => {
            let what = if errors {
                "output with compile errors"
            } else {
                "output without compile errors"
            };
            return Err(format!(
                "{what} does not parse as a file: {e}; output: {}",
                clip(&out.to_string(), 600)
            ));
        }
    };
    if errors {
        let text = out.to_string();
        if text.contains("internal error") {
            return Err(format!("internal error reported: {}", clip(&text, 600)));
        }
    }
    // The function as written is part of the output; with errors, its signature (the body is
    // set aside, so that the compiler does not report the same mistake again).
    if let Some(f) = original {
        let body = quote::quote!(#f).to_string();
        let kept = file.items.iter().any(|i| match i {
            syn::Item::Fn(g) => {
                g.sig.ident == f.sig.ident
                    && g.sig.inputs == f.sig.inputs
                    && g.sig.output == f.sig.output
                    && (errors || g.block == f.block)
            }
            _ => false,
        });
        if !kept {
            return Err(format!(
                "the original function is missing from the output; function: {}",
                clip(&body, 300)
            ));
        }
    }
    Ok(if errors {
        Outcome::Errors
    } else {
        Outcome::Expanded
    })
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let head: String = s.chars().take(n).collect();
        format!("{head}… ({} chars)", s.chars().count())
    }
}

/// The part of a problem that identifies it: the panic location, or the kind of bad output.
fn signature(problem: &str) -> String {
    if let Some(rest) = problem.strip_prefix("panicked at ") {
        return format!("panic at {}", rest.split(": ").next().unwrap_or(rest));
    }
    problem.split(':').next().unwrap_or(problem).to_string()
}

/// A smaller input with the same problem, by deleting runs of tokens and dissolving groups.
fn minimize(attr: &TokenStream, item: &TokenStream, sig: &str) -> (TokenStream, TokenStream) {
    let mut best = [toks(attr.clone()), toks(item.clone())];
    let mut budget = 1500usize;
    for which in [1, 0, 1] {
        while budget > 0 && shrink_once(&mut best, which, sig, &mut budget) {}
    }
    (stream(&best[0]), stream(&best[1]))
}

/// One successful shrinking step of `best[which]`, if there is one within the budget.
fn shrink_once(best: &mut [Vec<Tok>; 2], which: usize, sig: &str, budget: &mut usize) -> bool {
    let mut all = Vec::new();
    containers(&best[which], &mut Vec::new(), &mut all);
    for p in all.iter().rev() {
        let len = container_len(&best[which], p);
        let mut candidates: Vec<(usize, usize, bool)> = Vec::new();
        for size in [8, 4, 3, 2, 1] {
            if size <= len {
                candidates.extend((0..=len - size).rev().map(|i| (i, size, false)));
            }
        }
        candidates.extend((0..len).map(|i| (i, 1, true)));
        for (i, size, dissolve) in candidates {
            if *budget == 0 {
                return false;
            }
            let mut cand = best[which].clone();
            let c = container(&mut cand, p);
            if dissolve {
                let Tok::Group(_, inner) = c[i].clone() else {
                    continue;
                };
                c.splice(i..=i, inner);
            } else {
                c.drain(i..i + size);
            }
            *budget -= 1;
            let mut trial = best.clone();
            trial[which] = cand;
            let result = check(&stream(&trial[0]), &stream(&trial[1]));
            if matches!(result, Err(p) if signature(&p) == sig) {
                *best = trial;
                return true;
            }
        }
    }
    false
}

struct Failure {
    label: String,
    what: String,
    attr: TokenStream,
    item: TokenStream,
    problem: String,
}

/// The results of a run of cases.
#[derive(Default)]
struct Tally {
    /// Print each case before running it (`MATGRAD_ROBUST_TRACE=1`).
    trace: bool,
    cases: usize,
    unlexable: usize,
    /// By generator and outcome.
    outcomes: BTreeMap<String, usize>,
    failures: Vec<Failure>,
}

impl Tally {
    fn run(&mut self, label: String, case: Case) {
        self.cases += 1;
        if self.trace {
            // A stack overflow aborts the process without a word: this names the case.
            eprintln!("robust: {label} ({})", case.what);
        }
        let (attr, item) = match (case.attr, case.item) {
            (Ok(a), Ok(i)) => (a, i),
            _ => {
                // The tokens of an attribute or item always lex: rustc hands over nothing else.
                self.unlexable += 1;
                return;
            }
        };
        match check(&attr, &item) {
            Ok(o) => {
                let outcome = match o {
                    Outcome::Expanded => "expanded",
                    Outcome::Errors => "compile errors",
                    Outcome::Unparsable => "item not items, no panic",
                    Outcome::TooDeep => "too deep to parse here, no panic",
                };
                let key = format!("{:<26} {outcome}", format!("{}:", case.kind));
                *self.outcomes.entry(key).or_default() += 1;
            }
            Err(problem) => self.failures.push(Failure {
                label,
                what: case.what,
                attr,
                item,
                problem,
            }),
        }
    }

    fn report(&self) -> String {
        let mut s = format!(
            "{} of {} cases failed ({} did not lex and were skipped).\n",
            self.failures.len(),
            self.cases,
            self.unlexable,
        );
        let first = &self.failures[0];
        s.push_str(&format!(
            "\nFirst failure: {} ({})\n  problem: {}\n  attr: {}\n  item: {}\n",
            first.label,
            first.what,
            first.problem,
            clip(&first.attr.to_string(), 300),
            clip(&first.item.to_string(), 3000),
        ));
        let mut by_sig: BTreeMap<String, Vec<&Failure>> = BTreeMap::new();
        for f in &self.failures {
            by_sig.entry(signature(&f.problem)).or_default().push(f);
        }
        s.push_str(&format!("\n{} distinct problems:\n", by_sig.len()));
        for (sig, fs) in &by_sig {
            // Minimize the smallest.
            let f = fs
                .iter()
                .min_by_key(|f| f.item.to_string().len())
                .copied()
                .unwrap_or(fs[0]);
            let (a, i) = minimize(&f.attr, &f.item, sig);
            s.push_str(&format!(
                "\n* {sig} — {} cases, e.g. {} ({})\n  {}\n  minimized: attr `{}`, item `{}`\n",
                fs.len(),
                f.label,
                f.what,
                clip(&f.problem, 800),
                a,
                clip(&i.to_string(), 1500),
            ));
        }
        s
    }
}

/// Inputs that made the engine panic or emit bad output when this test was written; they stay
/// here, checked first, so that they are never lost.
const REGRESSIONS: &[(&str, &str)] = &[
    // A raw identifier as the function's name: `R#FOO_GRAD_FORMULA` is not an identifier
    // (panic in `format_ident!`, on the success and on the error path).
    ("wrt = x", "fn r#foo(x: f64) -> f64 { x }"),
    ("wrt = x", "fn r#foo(x: f64) -> f64 { x.frobnicate() }"),
    // A body that ends in a `let`: "internal error: no result and no error".
    (
        "wrt = w",
        "fn f(w: &DVector<f64>) -> f64 { let t = w.norm(); }",
    ),
    ("wrt = s", "fn f(s: f64) -> f64 { let t = 1.0; }"),
    // Run-time shape checks emit `break 'check ::core::..`, which rustc accepts but syn reads
    // as a label `'check:` and rejects ("expected loop or block expression").
    ("wrt = x", "fn f(x: &DMatrix<f64>) -> f64 { x.trace() }"),
    // Static sizes whose product overflows `usize`: `Dim::Fixed(x * y)` in `dim_product`, for
    // two static sizes and for a static size and a known dynamic one.
    (
        "wrt = x",
        "fn f(x: &SMatrix<f64, 4294967296, 4294967296>) -> f64 { x.kronecker(x).sum() }",
    ),
    (
        "wrt = x",
        "fn f(x: &SMatrix<f64, 4294967296, 4294967296>) -> f64 { x.kronecker(&DMatrix::identity(4294967296, 4294967296)).sum() }",
    ),
    // `powi(i32::MIN)`: `k - 1` overflows in the adjoint rule; with `hessian`, the tangent rule
    // overflows for `k <= i32::MIN + 1` (it differentiates the gradient's `powi(k - 1)`).
    ("wrt = s", "fn f(s: f64) -> f64 { s.powi(-2147483648) }"),
    ("wrt = s, hessian", "fn f(s: f64) -> f64 { s.powi(-2147483647) }"),
];

/// Every fragment of the mutation tables lexes (else `frag` panics, naming it).
fn check_tables() {
    for table in [
        TOKEN_POOL,
        IDENT_POOL,
        &METHOD_POOL,
        ARGS_POOL,
        LITERAL_POOL,
        STMT_POOL,
        QUALIFIER_POOL,
        GENERICS_POOL,
        WHERE_POOL,
        TYPE_POOL,
        RETURN_POOL,
        NAME_POOL,
        LEAF_EXTRAS,
        SCALAR_CLOSURE_TEMPLATES,
    ] {
        for entry in table {
            frag(entry);
        }
    }
    for p in PATTERN_POOL {
        frag(&p.replace("{n}", "x"));
    }
    for (before, after) in WRAP_POOL {
        frag(&format!("{before} x {after}"));
    }
    for t in EXPR_TEMPLATES {
        let e = t
            .replace("{a}", "x")
            .replace("{b}", "y")
            .replace("{c}", "v")
            .replace("{{", "{")
            .replace("}}", "}");
        frag(&e);
    }
}

fn run_all(random_cases: u64) -> Tally {
    check_tables();
    let mut tally = Tally {
        trace: std::env::var_os("MATGRAD_ROBUST_TRACE").is_some(),
        ..Tally::default()
    };
    for (i, (attr, item)) in REGRESSIONS.iter().enumerate() {
        tally.run(
            format!("regression #{i}"),
            Case {
                kind: "regressions",
                ..Case::from_text("known failure", attr, item)
            },
        );
    }
    // The corpus under every odd attribute, and as written.
    for (k, (attr, item)) in CORPUS.iter().enumerate() {
        tally.run(
            format!("corpus #{k}"),
            Case {
                kind: "corpus",
                ..Case::from_text("as written", attr, item)
            },
        );
        for (j, odd) in ODD_ATTRS.iter().enumerate() {
            if (k + j) % 3 == 0 {
                tally.run(
                    format!("corpus #{k} with odd attribute #{j}"),
                    Case {
                        kind: "corpus, odd attributes",
                        ..Case::from_text("odd attribute", odd, item)
                    },
                );
            }
        }
    }
    for seed in 0..random_cases {
        tally.run(format!("seed {seed}"), random_case(seed));
    }
    tally
}

/// The environment variable that makes `stress_child` run the stress cases from this index on.
const STRESS_FROM: &str = "MATGRAD_ROBUST_STRESS_FROM";

/// Runs the stress cases, from `$MATGRAD_ROBUST_STRESS_FROM` on, printing a line before and
/// after each; `stress_inputs_do_not_crash` runs it in a child process.
#[test]
#[ignore = "a helper: `stress_inputs_do_not_crash` runs it in a child process"]
fn stress_child() {
    use std::io::Write;
    let Some(from) = std::env::var(STRESS_FROM)
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    else {
        return;
    };
    install_hook();
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            install_hook();
            STAGES.with(|s| s.set(true));
            let mut stdout = std::io::stdout();
            for (i, case) in stress_cases().into_iter().enumerate().skip(from) {
                let _ = writeln!(stdout, "ROBUST-START {i}");
                let _ = stdout.flush();
                let started = Instant::now();
                let result = match (&case.attr, &case.item) {
                    (Ok(a), Ok(it)) => match check(a, it) {
                        Ok(o) => format!("ok {o:?}"),
                        Err(p) => format!("failed {}", p.replace('\n', " ")),
                    },
                    _ => "ok did not lex".to_string(),
                };
                let ms = started.elapsed().as_millis();
                let _ = writeln!(stdout, "ROBUST-DONE {i} {ms} {result}");
                let _ = stdout.flush();
            }
        })
        .expect("spawn the stress thread")
        .join()
        .expect("the stress thread does not panic outside the checked calls");
}

#[test]
fn stress_inputs_do_not_crash() {
    let exe = std::env::current_exe().expect("the test binary");
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let cases = stress_cases();
    let mut problems = Vec::new();
    let mut from = 0;
    let started = Instant::now();
    while from < cases.len() {
        let out = std::process::Command::new(&exe)
            .args(["--exact", &format!("{module}::stress_child")])
            .args(["--ignored", "--nocapture", "--test-threads=1"])
            .env(STRESS_FROM, from.to_string())
            .env("RUST_BACKTRACE", "0")
            .output()
            .expect("run the test binary");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut running = None;
        let mut in_stage = "";
        for line in stdout.lines() {
            // The harness may print `test .. ... ` before the first line.
            let line = line.find("ROBUST-").map_or("", |k| &line[k..]);
            if let Some(i) = line.strip_prefix("ROBUST-START ") {
                running = i.trim().parse::<usize>().ok();
            } else if let Some(name) = line.strip_prefix("ROBUST-STAGE ") {
                in_stage = name;
            } else if let Some(rest) = line.strip_prefix("ROBUST-DONE ") {
                running = None;
                let mut parts = rest.splitn(3, ' ');
                let i: usize = parts.next().and_then(|i| i.parse().ok()).unwrap_or(0);
                let ms: u128 = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
                let result = parts.next().unwrap_or("");
                from = i + 1;
                if let Some(p) = result.strip_prefix("failed ") {
                    problems.push(format!("stress #{i} ({}): {}", cases[i].what, clip(p, 700)));
                }
                if ms > 5000 {
                    problems.push(format!("stress #{i} ({}) took {ms} ms", cases[i].what));
                }
            }
        }
        match running {
            Some(i) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let why = stderr
                    .lines()
                    .find(|l| l.contains("overflow") || l.contains("panicked"))
                    .unwrap_or("no message");
                let whose = match in_stage {
                    "expand" => "in the expansion",
                    _ => "in this test's own parsing (not the engine)",
                };
                problems.push(format!(
                    "stress #{i} ({}): the process died {whose}, at stage `{in_stage}` ({}): {why}",
                    cases[i].what, out.status
                ));
                from = i + 1;
            }
            None if !out.status.success() => {
                problems.push(format!(
                    "the stress run failed ({}) after case {from}: {}",
                    out.status,
                    clip(&String::from_utf8_lossy(&out.stderr), 700)
                ));
                break;
            }
            None => break,
        }
    }
    println!(
        "robust: {} stress cases in {:.1?}",
        cases.len(),
        started.elapsed()
    );
    assert!(
        problems.is_empty(),
        "{} of {} stress inputs failed (each on an {} MiB stack, like rustc's):\n{}\n\
         To see where case i overflows: MATGRAD_ROBUST_STRESS_FROM=i gdb -batch -ex run -ex bt \
         --args {} --exact {module}::stress_child --ignored",
        problems.len(),
        cases.len(),
        STACK >> 20,
        problems.join("\n"),
        exe.display(),
    );
}

#[test]
fn malformed_inputs_never_panic() {
    install_hook();
    let random_cases = std::env::var("MATGRAD_ROBUST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(RANDOM_CASES);
    let started = Instant::now();
    // On a stack the size of rustc's, where the macro runs.
    let tally = std::thread::Builder::new()
        .name("robust".into())
        .stack_size(STACK)
        .spawn(move || {
            install_hook();
            let tally = run_all(random_cases);
            let report = if tally.failures.is_empty() {
                None
            } else {
                Some(tally.report())
            };
            (tally.cases, tally.unlexable, tally.outcomes, report)
        })
        .expect("spawn the test thread")
        .join()
        .expect("the test thread does not panic outside the checked calls");
    let (cases, unlexable, outcomes, report) = tally;
    println!(
        "robust: {cases} cases ({unlexable} did not lex) in {:.1?}",
        started.elapsed()
    );
    for (key, n) in &outcomes {
        println!("  {key}: {n}");
    }
    if let Some(report) = report {
        panic!("{report}");
    }
    assert!(cases >= 5000, "only {cases} cases");
}

#[test]
fn expansion_is_deterministic() {
    install_hook();
    let expand = |attr: &str, item: &str| -> String {
        let attr: TokenStream = attr.parse().expect("corpus attributes lex");
        let item: TokenStream = item.parse().expect("corpus items lex");
        crate::expand_gradient(attr, item).to_string()
    };
    // Every corpus function expands, without errors, to the same tokens each time.
    let first: Vec<String> = CORPUS.iter().map(|(a, i)| expand(a, i)).collect();
    for ((attr, item), out) in CORPUS.iter().zip(&first) {
        let ts: TokenStream = out.parse().expect("the expansion lexes");
        assert!(
            !has_compile_error(&ts),
            "corpus function does not expand cleanly: #[gradient({attr})] {item}\n{out}"
        );
        assert_eq!(&expand(attr, item), out, "second expansion differs: {item}");
    }
    // In reverse order, after all the others, and between unrelated (failing) expansions.
    for (k, (attr, item)) in CORPUS.iter().enumerate().rev() {
        let _ = expand("wrt = 1", "fn broken(x: f64) -> f64 { x.frobnicate() }");
        let _ = expand(
            CORPUS[(k + 7) % CORPUS.len()].0,
            CORPUS[(k + 3) % CORPUS.len()].1,
        );
        assert_eq!(expand(attr, item), first[k], "expansion changed: {item}");
    }
    // On another thread (thread-local state, hash seeds).
    let again = std::thread::spawn(|| {
        CORPUS
            .iter()
            .map(|(a, i)| {
                crate::expand_gradient(a.parse().unwrap(), i.parse().unwrap()).to_string()
            })
            .collect::<Vec<_>>()
    })
    .join()
    .expect("the expansions do not panic");
    for (k, out) in again.iter().enumerate() {
        assert_eq!(
            out, &first[k],
            "expansion on another thread differs: {}",
            CORPUS[k].1
        );
    }
    // A sample of mutated inputs, errors included: twice each, with other work in between.
    for seed in 0..300u64 {
        let case = random_case(seed);
        let (Ok(attr), Ok(item)) = (case.attr, case.item) else {
            continue;
        };
        CAPTURING.with(|c| c.set(true));
        let once = panic::catch_unwind(AssertUnwindSafe(|| {
            crate::expand_gradient(attr.clone(), item.clone()).to_string()
        }));
        CAPTURING.with(|c| c.set(false));
        let Ok(once) = once else {
            // Panics are `malformed_inputs_never_panic`'s to report.
            continue;
        };
        let _ = expand(
            CORPUS[seed as usize % CORPUS.len()].0,
            CORPUS[seed as usize % CORPUS.len()].1,
        );
        let twice = crate::expand_gradient(attr, item).to_string();
        assert_eq!(
            once, twice,
            "seed {seed} ({}) expands differently twice",
            case.what
        );
    }
}
