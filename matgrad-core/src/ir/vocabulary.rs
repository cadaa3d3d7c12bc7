//! The vocabulary: every method and scalar function matgrad differentiates, in one table each,
//! with what it is called on, the operation it becomes and how formulas print it. Lowering
//! (`front/lower/`), its error messages and type guesses, emission of scalar functions
//! (`emit/`), printing (`Func::method`), the randomized test pools and the fuzz dictionary all
//! read these tables; a test checks the printed names against the printer and the dictionary
//! against the tables.

use super::{Func, Op};

/// What a method is called on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receiver {
    /// A matrix or vector (`x.transpose()`).
    Matrix,
    /// A scalar, or an entry inside a `map` closure (`v.exp()`).
    Scalar,
    /// A factorisation: the value of `lu()` or `cholesky().unwrap()` (`chol.solve(&b)`).
    Factor,
    /// An iterator over a matrix's entries, `x.iter()` (`x.iter().map(|v| ..).sum::<f64>()`).
    Iterator,
}

/// How lowering reads a method.
#[derive(Clone, Debug, PartialEq)]
pub enum Lowering {
    /// One operation on the receiver whose result is a scalar (`x.norm_squared()`).
    ScalarOf(Op),
    /// A scalar function, entrywise inside `map` ([`FUNCTIONS`]).
    Function(Func),
    /// Lowered by code of its own in `front/lower/` (shapes to check, arguments to read); the
    /// string names the file.
    Own(&'static str),
}

/// A method of the vocabulary.
#[derive(Clone, Debug)]
pub struct Method {
    /// The Rust method name.
    pub name: &'static str,
    pub receiver: Receiver,
    /// The call as users write it, arguments elided (`solve_lower_triangular(..).unwrap()`):
    /// how error messages list it.
    pub written: &'static str,
    /// A call as a fuzzer or a test writes it (`.dot(&b)`).
    pub example: &'static str,
    pub lowering: Lowering,
    /// Whether its value is a scalar, for guessing the type of a constant whose receiver's
    /// type is unknown.
    pub scalar_result: bool,
    /// How formulas print it, with `a` for the receiver and `b` for the argument.
    pub printed: &'static str,
}

const fn method(
    name: &'static str,
    receiver: Receiver,
    written: &'static str,
    example: &'static str,
    lowering: Lowering,
    scalar_result: bool,
    printed: &'static str,
) -> Method {
    Method {
        name,
        receiver,
        written,
        example,
        lowering,
        scalar_result,
        printed,
    }
}

use Lowering::{Own, ScalarOf};
use Receiver::{Factor, Iterator as Iter, Matrix};

/// The methods on matrices, factorisations and iterators over a matrix's entries, in the order
/// error messages list them.
#[rustfmt::skip]
pub static METHODS: &[Method] = &[
    method("transpose",              Matrix, "transpose",                             ".transpose()",                         Own("methods.rs"),        false, "aᵀ"),
    method("trace",                  Matrix, "trace",                                 ".trace()",                             Own("methods.rs"),        true,  "tr(a)"),
    method("determinant",            Matrix, "determinant",                           ".determinant()",                       Own("methods.rs"),        true,  "det(a)"),
    method("try_inverse",            Matrix, "try_inverse().unwrap()",                ".try_inverse().unwrap()",              Own("methods.rs"),        false, "a⁻¹"),
    method("lu",                     Matrix, "lu()",                                  ".lu().solve(&b).unwrap()",             Own("factorisations.rs"), false, "a⁻¹ b"),
    method("cholesky",               Matrix, "cholesky().unwrap()",                   ".cholesky().unwrap().l()",             Own("factorisations.rs"), false, "chol(a)"),
    method("solve_lower_triangular", Matrix, "solve_lower_triangular(..).unwrap()",   ".solve_lower_triangular(&b).unwrap()", Own("factorisations.rs"), false, "a⁻¹ b"),
    method("solve_upper_triangular", Matrix, "solve_upper_triangular(..).unwrap()",   ".solve_upper_triangular(&b).unwrap()", Own("factorisations.rs"), false, "a⁻¹ b"),
    method("component_mul",          Matrix, "component_mul",                         ".component_mul(&b)",                   Own("methods.rs"),        false, "a ⊙ b"),
    method("component_div",          Matrix, "component_div",                         ".component_div(&b)",                   Own("methods.rs"),        false, "a ⊘ b"),
    method("kronecker",              Matrix, "kronecker",                             ".kronecker(&b)",                       Own("methods.rs"),        false, "a ⊗ b"),
    method("dot",                    Matrix, "dot",                                   ".dot(&b)",                             Own("methods.rs"),        true,  "⟨a, b⟩"),
    method("tr_mul",                 Matrix, "tr_mul",                                ".tr_mul(&b)",                          Own("methods.rs"),        false, "aᵀ b"),
    method("cross",                  Matrix, "cross",                                 ".cross(&b)",                           Own("reductions.rs"),     false, "a × b"),
    method("norm",                   Matrix, "norm",                                  ".norm()",                              ScalarOf(Op::Norm),       true,  "‖a‖"),
    method("norm_squared",           Matrix, "norm_squared",                          ".norm_squared()",                      ScalarOf(Op::NormSq),     true,  "‖a‖²"),
    method("normalize",              Matrix, "normalize",                             ".normalize()",                         Own("reductions.rs"),     false, "a / ‖a‖"),
    method("sum",                    Matrix, "sum",                                   ".sum()",                               ScalarOf(Op::Sum),        true,  "sum(a)"),
    method("mean",                   Matrix, "mean",                                  ".mean()",                              Own("methods.rs"),        true,  "sum(a) / n"),
    method("max",                    Matrix, "max",                                   ".max()",                               Own("reductions.rs"),     true,  "max(a)"),
    method("min",                    Matrix, "min",                                   ".min()",                               Own("reductions.rs"),     true,  "min(a)"),
    method("row_sum",                Matrix, "row_sum",                               ".row_sum()",                           Own("reductions.rs"),     false, "1ᵀ a"),
    method("column_sum",             Matrix, "column_sum",                            ".column_sum()",                        Own("reductions.rs"),     false, "a 1"),
    method("row_mean",               Matrix, "row_mean",                              ".row_mean()",                          Own("reductions.rs"),     false, "1ᵀ a / n"),
    method("column_mean",            Matrix, "column_mean",                           ".column_mean()",                       Own("reductions.rs"),     false, "a 1 / n"),
    method("diagonal",               Matrix, "diagonal",                              ".diagonal()",                          Own("reductions.rs"),     false, "diag(a)"),
    method("column",                 Matrix, "column",                                ".column(0)",                           Own("reductions.rs"),     false, "a[:, j]"),
    method("row",                    Matrix, "row",                                   ".row(0)",                              Own("reductions.rs"),     false, "a[i, :]"),
    method("rows",                   Matrix, "rows",                                  ".rows(0, 2)",                          Own("reductions.rs"),     false, "a[i..i+k, :]"),
    method("columns",                Matrix, "columns",                               ".columns(0, 2)",                       Own("reductions.rs"),     false, "a[:, j..j+k]"),
    method("view",                   Matrix, "view",                                  ".view((0, 0), (2, 2))",                Own("reductions.rs"),     false, "a[i..i+r, j..j+c]"),
    method("fixed_rows",             Matrix, "fixed_rows",                            ".fixed_rows::<2>(0)",                  Own("reductions.rs"),     false, "a[i..i+k, :]"),
    method("fixed_columns",          Matrix, "fixed_columns",                         ".fixed_columns::<2>(0)",               Own("reductions.rs"),     false, "a[:, j..j+k]"),
    method("fixed_view",             Matrix, "fixed_view",                            ".fixed_view::<2, 2>(0, 0)",            Own("reductions.rs"),     false, "a[i..i+r, j..j+c]"),
    method("xy",                     Matrix, "xy",                                    ".xy()",                                Own("reductions.rs"),     false, "a[0..2]"),
    method("xyz",                    Matrix, "xyz",                                   ".xyz()",                               Own("reductions.rs"),     false, "a[0..3]"),
    method("map",                    Matrix, "map",                                   ".map(|v| v.tanh())",                   Own("expr.rs"),           false, "f(a)"),
    method("add_scalar",             Matrix, "add_scalar",                            ".add_scalar(1.0)",                     Own("methods.rs"),        false, "a + b 1 1ᵀ"),
    method("zip_map",                Matrix, "zip_map",                               ".zip_map(&b, |u, v| u * v)",           Own("expr.rs"),           false, "f(a, b)"),
    method("iter",                   Matrix, "iter().map(..).sum()",                  ".iter().map(|v| v.tanh()).sum::<f64>()", Own("expr.rs"),         false, "sum(f(a))"),
    method("into_iter",              Matrix, "into_iter().map(..).sum()",             ".into_iter().map(|v| v * v).sum::<f64>()", Own("expr.rs"),       false, "sum(f(a))"),
    // Methods of an iterator over the entries (the value of `iter()`), read up to its sum.
    method("map",                    Iter,   "map(..)",                               ".map(|(u, v)| u * v)",                 Own("expr.rs"),           false, "f(a)"),
    method("zip",                    Iter,   "zip(..)",                               ".zip(b.iter())",                       Own("expr.rs"),           false, "(a, b)"),
    method("copied",                 Iter,   "copied()",                              ".copied()",                            Own("expr.rs"),           false, "a"),
    method("cloned",                 Iter,   "cloned()",                              ".cloned()",                            Own("expr.rs"),           false, "a"),
    method("sum",                    Iter,   "sum()",                                 ".sum::<f64>()",                        Own("expr.rs"),           true,  "sum(a)"),
    // Methods of a factorisation (the value of `lu()` or `cholesky().unwrap()`).
    method("solve",                  Factor, "solve(..)",                             ".solve(&b)",                           Own("factorisations.rs"), false, "a⁻¹ b"),
    method("l",                      Factor, "l()",                                   ".l()",                                 Own("factorisations.rs"), false, "chol(a)"),
    method("inverse",                Factor, "inverse()",                             ".inverse()",                           Own("factorisations.rs"), false, "a⁻¹"),
    method("ln_determinant",         Factor, "ln_determinant()",                      ".ln_determinant()",                    Own("factorisations.rs"), true,  "ln det(a)"),
];

/// Scalar methods with an argument, after the functions in error messages.
#[rustfmt::skip]
pub static SCALAR_METHODS: &[Method] = &[
    method("powi", Receiver::Scalar, "powi",   ".powi(2)",    Own("methods.rs"), true, "aᵏ"),
    method("powf", Receiver::Scalar, "powf",   ".powf(1.5)",  Own("methods.rs"), true, "aᵇ"),
    method("max",  Receiver::Scalar, "max(c)", ".max(0.0)",   Own("methods.rs"), true, "max(a, b)"),
    method("min",  Receiver::Scalar, "min(c)", ".min(0.0)",   Own("methods.rs"), true, "min(a, b)"),
];

/// Where a scalar function is smooth, for the randomized tests' pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// Smooth and bounded on the reals (`sin`, `tanh`).
    Bounded,
    /// Smooth on the reals, growing (`exp`).
    Growing,
    /// Smooth for positive arguments (`ln`, `sqrt`, `recip`).
    Positive,
    /// Not differentiable everywhere (`abs`, `signum`).
    Kinked,
}

/// How generated code computes a scalar function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// The method of the same name (`v.exp()`).
    Method,
    /// A helper of matgrad's run-time (`::matgrad::__private::sigmoid(v)`), where no method
    /// does it exactly or stably.
    Helper(&'static str),
}

/// A scalar function.
#[derive(Clone, Copy, Debug)]
pub struct Function {
    pub func: Func,
    /// The Rust method users write (`v.exp()`), or `None` for a function matgrad derives but
    /// users do not write (σ, the derivative of softplus).
    pub rust: Option<&'static str>,
    /// Its name (the Rust method's, where users write one; σ for the logistic function).
    pub name: &'static str,
    /// How formulas print it, of an argument `a`.
    pub printed: &'static str,
    pub code: Code,
    pub domain: Domain,
}

const fn function(
    func: Func,
    rust: Option<&'static str>,
    name: &'static str,
    printed: &'static str,
    code: Code,
    domain: Domain,
) -> Function {
    Function {
        func,
        rust,
        name,
        printed,
        code,
        domain,
    }
}

/// Every scalar function, in the order of `Func`'s variants (a test checks it), which is the
/// order error messages list them in.
#[rustfmt::skip]
pub static FUNCTIONS: &[Function] = &[
    function(Func::Exp,      Some("exp"),    "exp",      "exp(a)",         Code::Method,              Domain::Growing),
    function(Func::ExpM1,    Some("exp_m1"), "exp_m1",   "exp(a) − 1",     Code::Method,              Domain::Growing),
    function(Func::Ln,       Some("ln"),     "ln",       "ln(a)",          Code::Method,              Domain::Positive),
    function(Func::Ln1p,     Some("ln_1p"),  "ln_1p",    "ln(1 + a)",      Code::Method,              Domain::Positive),
    function(Func::Log10,    Some("log10"),  "log10",    "log₁₀(a)",       Code::Method,              Domain::Positive),
    function(Func::Log2,     Some("log2"),   "log2",     "log₂(a)",        Code::Method,              Domain::Positive),
    function(Func::Sqrt,     Some("sqrt"),   "sqrt",     "√a",             Code::Method,              Domain::Positive),
    function(Func::Sin,      Some("sin"),    "sin",      "sin(a)",         Code::Method,              Domain::Bounded),
    function(Func::Cos,      Some("cos"),    "cos",      "cos(a)",         Code::Method,              Domain::Bounded),
    function(Func::Tanh,     Some("tanh"),   "tanh",     "tanh(a)",        Code::Method,              Domain::Bounded),
    function(Func::Abs,      Some("abs"),    "abs",      "|a|",            Code::Method,              Domain::Kinked),
    function(Func::Signum,   Some("signum"), "signum",   "sign(a)",        Code::Method,              Domain::Kinked),
    function(Func::Recip,    Some("recip"),  "recip",    "1 / a",          Code::Method,              Domain::Positive),
    // sign(v) with sign(0) = 0, the subgradient of |v| (`f64::signum` is 1 at +0).
    function(Func::Sign,     None,           "sign",     "sign(a)",        Code::Helper("sign"),      Domain::Kinked),
    // 1/(1 + e⁻ᵛ), which neither overflows nor loses precision for large |v|.
    function(Func::Sigmoid,  None,           "σ",        "σ(a)",           Code::Helper("sigmoid"),   Domain::Bounded),
    function(Func::Softplus, None,           "softplus", "ln(1 + exp(a))", Code::Helper("softplus"),  Domain::Growing),
];

/// nalgebra methods matgrad does not differentiate but whose value it knows is a scalar, for
/// guessing the type of a constant (`c.amax()`).
pub const OTHER_SCALAR_METHODS: &[&str] = &["amax", "amin", "product", "variance"];

/// The entry of a scalar function (the table is in the order of `Func`'s variants).
pub fn function_of(f: Func) -> &'static Function {
    &FUNCTIONS[f as usize]
}

/// The scalar function a user's method names (`exp` ↦ `Func::Exp`).
pub fn function_named(name: &str) -> Option<Func> {
    FUNCTIONS
        .iter()
        .find(|e| e.rust == Some(name))
        .map(|e| e.func)
}

/// The matrix method of that name, if matgrad knows it.
pub fn matrix_method(name: &str) -> Option<&'static Method> {
    METHODS
        .iter()
        .find(|m| m.name == name && m.receiver == Receiver::Matrix)
}

/// The scalar functions whose domain is `d`, for test pools.
pub fn functions_on(d: Domain) -> Vec<Func> {
    FUNCTIONS
        .iter()
        .filter(|e| e.domain == d)
        .map(|e| e.func)
        .collect()
}

/// Whether a method's value is known to be a scalar (for guessing a constant's type).
pub fn returns_scalar(name: &str) -> bool {
    METHODS.iter().any(|m| m.name == name && m.scalar_result)
        || SCALAR_METHODS.iter().any(|m| m.name == name)
        || function_named(name).is_some()
        || OTHER_SCALAR_METHODS.contains(&name)
}

/// The supported matrix methods, as error messages list them.
pub fn matrix_methods_text() -> String {
    METHODS
        .iter()
        .filter(|m| m.receiver == Receiver::Matrix)
        .map(|m| m.written)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The supported methods of an iterator over a matrix's entries, as error messages list them.
pub fn iterator_methods_text() -> String {
    METHODS
        .iter()
        .filter(|m| m.receiver == Receiver::Iterator)
        .map(|m| m.written)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The scalar functions users write, as error messages list them.
pub fn scalar_functions_text() -> String {
    FUNCTIONS
        .iter()
        .filter_map(|f| f.rust)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The supported scalar functions and methods, as error messages list them.
pub fn scalar_methods_text() -> String {
    let functions = FUNCTIONS.iter().filter_map(|f| f.rust);
    let methods = SCALAR_METHODS.iter().map(|m| m.written);
    functions.chain(methods).collect::<Vec<_>>().join(", ")
}
