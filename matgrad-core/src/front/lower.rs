//! Lowering: the function body, read into the expression graph.
//!
//! Sub-expressions on a path from a variable to the result must use operations matgrad has a
//! rule for; each other use is an error spanned on the user's tokens. Sub-expressions that do
//! not depend on a variable are constants: where they use anything else, they are copied
//! through as written (`Op::Opaque`), and constant `let`s are emitted as the user wrote them
//! (`Op::Local`), so the generated code computes them exactly as the original function does.

mod factorisations;
mod reductions;

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{BinOp, Block, Expr, Ident, Lit, Pat, UnOp};

use super::types::{classify, Axis, TypeKind};
use super::Function;
use crate::ctxt::Ctxt;
use crate::ir::{Func, Graph, Index, Leaf, NodeId, Op};
use crate::shape::{Dim, DimSource, Shape, Ty};
use crate::simplify::representative;

/// The body, lowered.
pub struct Body {
    pub graph: Graph,
    /// The function's result.
    pub output: NodeId,
    /// The nodes of the parameters, by position (`None` for parameters matgrad cannot name).
    pub param_nodes: Vec<Option<NodeId>>,
    /// Constant statements, emitted as written, in their order.
    pub stmts: Vec<Stmt>,
}

/// A constant statement of the user's body, emitted as written.
pub struct Stmt {
    pub tokens: TokenStream,
    /// For a `let` matgrad refers to: the alias bound to a reference to it, and its name.
    pub alias: Option<(Ident, Ident)>,
    /// For a `let` whose value matgrad builds itself where it is needed (a vector of ones,
    /// which products turn into sums and broadcasts): the name, so that the statement is
    /// emitted only if other copied code still refers to it.
    pub optional: Option<String>,
}

const MATRIX_METHODS: &str = "transpose, trace, determinant, try_inverse().unwrap(), lu(), cholesky().unwrap(), solve_lower_triangular(..).unwrap(), solve_upper_triangular(..).unwrap(), component_mul, component_div, kronecker, dot, tr_mul, cross, norm, norm_squared, normalize, sum, mean, max, min, row_sum, column_sum, row_mean, column_mean, diagonal, column, row, rows, columns, view, fixed_rows, fixed_columns, fixed_view, xy, xyz, map, add_scalar";
const SCALAR_METHODS: &str =
    "exp, exp_m1, ln, ln_1p, log10, log2, sqrt, powi, powf, sin, cos, tanh, abs, signum, recip, max(c), min(c)";
/// The highest matrix power formed from repeated products (the derivative of xᵏ has k terms).
pub const MAX_POWER: u32 = 64;

/// How deeply nested an expression matgrad reads (sub-expressions within sub-expressions).
const MAX_DEPTH: usize = 200;

const CONSTANTS_NOTE: &str = "parts of the body that do not depend on a variable may use anything";

#[derive(Clone, Copy)]
struct Bound {
    node: NodeId,
}

struct Lowerer<'a> {
    f: &'a Function,
    g: Graph,
    cx: &'a mut Ctxt,
    scopes: Vec<HashMap<String, Bound>>,
    stmts: Vec<Stmt>,
    /// Inside a `map` closure: the shape of the mapped matrix, so that scalar arithmetic on the
    /// closure's argument reads as entrywise arithmetic on the matrix.
    elementwise: Option<Shape>,
    opaque_by_text: HashMap<String, NodeId>,
    /// How deeply the expression being read is nested, to stop before the stack does.
    depth: usize,
    /// Factorisations on the active path (`a.clone().cholesky().unwrap()`, `a.clone().lu()`),
    /// by the node that stands for the factorisation object.
    factors: HashMap<NodeId, Factor>,
}

/// A factorisation object of the body, read through its methods.
#[derive(Clone, Copy, Debug)]
enum Factor {
    /// `a.lu()`, by the node of a.
    Lu(NodeId),
    /// `a.cholesky().unwrap()`: the factor L (`Op::Cholesky`).
    Cholesky(NodeId),
}

/// Lower the function's body. Errors are reported in `cx`; `None` if no result could be built.
pub fn lower(f: &Function, cx: &mut Ctxt) -> Option<Body> {
    let mut g = Graph::default();
    g.params = f
        .params
        .iter()
        .map(|p| p.name.as_ref().map(|n| n.to_string()).unwrap_or_default())
        .collect();
    g.variables = f.params.iter().map(|p| p.is_variable).collect();
    let mut lw = Lowerer {
        f,
        g,
        cx,
        scopes: vec![HashMap::new()],
        stmts: Vec::new(),
        elementwise: None,
        opaque_by_text: HashMap::new(),
        depth: 0,
        factors: HashMap::new(),
    };
    let param_nodes = lw.bind_params();
    let output = lw.block_value(&f.item.block);
    let mut g = lw.g;
    g.primal_len = g.len();
    let output = output?;
    Some(Body {
        graph: g,
        output,
        param_nodes,
        stmts: lw.stmts,
    })
}

/// The identifiers an expression mentions (as paths or inside macro tokens), and those it
/// mentions only to ask their size (`x.len()`), which does not depend on their values.
struct Mentions<'s> {
    names: &'s mut Vec<String>,
    sizes: &'s mut Vec<String>,
}

impl<'ast> Visit<'ast> for Mentions<'_> {
    fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
        if let Some(id) = p.path.get_ident() {
            self.names.push(id.to_string());
        }
        syn::visit::visit_expr_path(self, p);
    }
    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        let size_query = m.args.is_empty()
            && matches!(
                m.method.to_string().as_str(),
                "len" | "nrows" | "ncols" | "shape"
            );
        if let (true, Expr::Path(p)) = (size_query, strip(&m.receiver)) {
            if let Some(id) = p.path.get_ident() {
                self.sizes.push(id.to_string());
                return;
            }
        }
        syn::visit::visit_expr_method_call(self, m);
    }
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        collect_idents(m.tokens.clone(), self.names);
    }
}

fn collect_idents(ts: TokenStream, out: &mut Vec<String>) {
    for tt in ts {
        match tt {
            proc_macro2::TokenTree::Ident(i) => out.push(i.to_string()),
            proc_macro2::TokenTree::Group(g) => collect_idents(g.stream(), out),
            _ => {}
        }
    }
}

fn text_of<T: ToTokens>(t: &T) -> String {
    crate::pretty::source_text(&t.to_token_stream())
}

fn int_literal(e: &Expr) -> Option<i64> {
    match e {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse().ok(),
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => int_literal(&u.expr).map(|v| -v),
        Expr::Paren(p) => int_literal(&p.expr),
        Expr::Group(g) => int_literal(&g.expr),
        _ => None,
    }
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip(&p.expr),
        Expr::Group(g) => strip(&g.expr),
        Expr::Reference(r) if r.mutability.is_none() => strip(&r.expr),
        _ => e,
    }
}

fn describe_dim(g: &Graph, d: Dim) -> String {
    match g.dims.known(d) {
        Some(n) => n.to_string(),
        None => match d {
            Dim::Dyn(v) => g.dims.name(v).to_string(),
            Dim::Fixed(n) => n.to_string(),
        },
    }
}

impl Lowerer<'_> {
    // ---- bindings ---------------------------------------------------------------------------

    fn lookup(&self, name: &str) -> Option<Bound> {
        self.scopes.iter().rev().find_map(|s| s.get(name).copied())
    }

    fn bind(&mut self, name: String, node: NodeId) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name, Bound { node });
        }
    }

    /// Whether copying these tokens into generated code would copy a dependence on a variable,
    /// or a name that generated code does not have (a `let` matgrad computes itself).
    fn mentions_active(&self, tokens: &impl ToTokens) -> bool {
        let (mut names, mut sizes) = (Vec::new(), Vec::new());
        let ts = tokens.to_token_stream();
        match syn::parse2::<Expr>(ts.clone()) {
            Ok(e) => Mentions {
                names: &mut names,
                sizes: &mut sizes,
            }
            .visit_expr(&e),
            Err(_) => collect_idents(ts, &mut names),
        }
        let active = |n: &String| self.lookup(n).is_some_and(|b| self.g.is_active(b.node));
        let unnamed = |n: &String| {
            self.lookup(n).is_some_and(|b| {
                self.g.is_active(b.node) && !matches!(self.g.op(b.node), Op::Param(_))
            })
        };
        names.iter().any(active) || sizes.iter().any(unnamed)
    }

    fn bind_params(&mut self) -> Vec<Option<NodeId>> {
        let f = self.f;
        let mut out = Vec::new();
        for (i, p) in f.params.iter().enumerate() {
            let Some(name) = &p.name else {
                out.push(None);
                continue;
            };
            let ty = match p.info.kind {
                TypeKind::Scalar => Ty::Scalar,
                TypeKind::Matrix { rows, cols } => {
                    let alias = format_ident!("__mg_p{}", i);
                    let rows = self.axis(
                        rows,
                        format!("the rows of `{name}`"),
                        quote!(#alias.nrows()),
                    );
                    let cols = self.axis(
                        cols,
                        format!("the columns of `{name}`"),
                        quote!(#alias.ncols()),
                    );
                    Ty::Matrix(Shape::new(rows, cols))
                }
                TypeKind::Other => Ty::Unknown,
            };
            let node = self.g.node(Op::Param(i), vec![], ty);
            self.g.set_span(node, name.span());
            self.bind(name.to_string(), node);
            out.push(Some(node));
        }
        out
    }

    fn axis(&mut self, axis: Axis, name: String, code: TokenStream) -> Dim {
        match axis {
            Axis::Fixed(n) => Dim::Fixed(n),
            Axis::Dyn => {
                let v = self.g.dims.fresh(name);
                self.g.dims.add_source(v, DimSource::Expr(code));
                Dim::Dyn(v)
            }
        }
    }

    /// A fresh matrix shape for a constant whose shape is only known at run time.
    fn fresh_shape(&mut self, text: &str, rows: Axis, cols: Axis, alias: &Ident) -> Shape {
        let r = self.axis(
            rows,
            format!("the rows of `{text}`"),
            quote!(#alias.nrows()),
        );
        let c = self.axis(
            cols,
            format!("the columns of `{text}`"),
            quote!(#alias.ncols()),
        );
        Shape::new(r, c)
    }

    // ---- nodes ------------------------------------------------------------------------------

    fn mk(&mut self, op: Op, args: Vec<NodeId>, ty: Ty, span: Span) -> NodeId {
        let id = self.g.node(op, args, ty);
        self.g.set_span(id, span);
        id
    }

    fn ty(&self, n: NodeId) -> Ty {
        self.g.ty(n)
    }

    /// A constant expression, copied through as written.
    fn opaque(&mut self, e: &impl ToTokens, ty: Ty) -> NodeId {
        let text = text_of(e);
        self.opaque_code(quote!(#e), text, ty, e.to_token_stream().span())
    }

    fn opaque_code(&mut self, code: TokenStream, text: String, ty: Ty, span: Span) -> NodeId {
        let key = code.to_string();
        if let Some(&n) = self.opaque_by_text.get(&key) {
            return n;
        }
        let k = self.g.opaque.len();
        let alias = format_ident!("__mg_o{}", k);
        self.g.opaque.push(Leaf {
            code,
            text: text.clone(),
            alias: alias.clone(),
        });
        let ty = match ty {
            Ty::Matrix(_) => Ty::Matrix(self.fresh_shape(&text, Axis::Dyn, Axis::Dyn, &alias)),
            t => t,
        };
        let n = self.mk(Op::Opaque(k), vec![], ty, span);
        self.opaque_by_text.insert(key, n);
        n
    }

    /// Give a leaf of unknown kind the type its context requires.
    fn settle(&mut self, n: NodeId, ty: Ty) {
        if self.ty(n) == Ty::Unknown && self.g.op(n).is_leaf() {
            let ty = match ty {
                Ty::Matrix(s) => {
                    let alias = self.g.leaf_alias(n);
                    let text = format!("{alias}");
                    let rows = if s.rows == Dim::Fixed(1) {
                        Axis::Fixed(1)
                    } else {
                        Axis::Dyn
                    };
                    let cols = if s.cols == Dim::Fixed(1) {
                        Axis::Fixed(1)
                    } else {
                        Axis::Dyn
                    };
                    let fresh = self.fresh_shape(&text, rows, cols, &alias);
                    let _ = self.g.dims.unify(fresh.rows, s.rows);
                    let _ = self.g.dims.unify(fresh.cols, s.cols);
                    Ty::Matrix(fresh)
                }
                t => t,
            };
            self.g.set_leaf_ty(n, ty);
        }
    }

    /// The fallback for syntax without a rule: a constant if it mentions no variable, else an error.
    fn fallback(&mut self, e: &Expr, what: &str, advice: &str) -> Option<NodeId> {
        if !self.mentions_active(e) {
            let ty = guess_ty(e);
            return Some(self.opaque(e, ty));
        }
        let msg = if advice.is_empty() {
            format!("matgrad cannot differentiate {what}; {CONSTANTS_NOTE}")
        } else {
            format!("matgrad cannot differentiate {what}: {advice}")
        };
        self.cx.error_spanned_by(e, msg);
        None
    }

    fn unify(
        &mut self,
        a: Dim,
        b: Dim,
        at: &impl ToTokens,
        msg: impl FnOnce(&Graph) -> String,
    ) -> bool {
        if self.g.dims.unify(a, b).is_ok() {
            return true;
        }
        let m = msg(&self.g);
        self.cx.error_spanned_by(at, m);
        false
    }

    fn shape_text(&self, s: Shape) -> String {
        format!(
            "{}×{}",
            describe_dim(&self.g, s.rows),
            describe_dim(&self.g, s.cols)
        )
    }

    fn same_shape(
        &mut self,
        a: NodeId,
        b: NodeId,
        at: &impl ToTokens,
        what: &str,
        le: &Expr,
        re: &Expr,
    ) -> Option<Shape> {
        let (Some(sa), Some(sb)) = (self.g.shape(a), self.g.shape(b)) else {
            return None;
        };
        let (ta, tb) = (self.shape_text(sa), self.shape_text(sb));
        let (la, lb) = (text_of(le), text_of(re));
        let msg = |_: &Graph| {
            format!("cannot {what} `{la}` ({ta}) and `{lb}` ({tb}): their shapes differ")
        };
        let ok = self.unify(sa.rows, sb.rows, at, msg) && self.unify(sa.cols, sb.cols, at, msg);
        ok.then(|| representative(sa, sb))
    }

    fn require_square(&mut self, a: NodeId, what: &str, recv: &Expr, at: &impl ToTokens) -> bool {
        let Some(s) = self.g.shape(a) else {
            return false;
        };
        let t = self.shape_text(s);
        let r = text_of(recv);
        self.unify(s.rows, s.cols, at, |_| {
            format!("`{what}` needs a square matrix, but `{r}` is {t}")
        })
    }

    // ---- statements -------------------------------------------------------------------------

    /// The value of a block: its statements, then its final expression.
    fn block_value(&mut self, block: &Block) -> Option<NodeId> {
        self.scopes.push(HashMap::new());
        let n = block.stmts.len();
        let mut value = None;
        for (i, stmt) in block.stmts.iter().enumerate() {
            let last = i + 1 == n;
            match stmt {
                syn::Stmt::Expr(e, None) if last => value = self.expr(e),
                syn::Stmt::Expr(Expr::Return(r), _) if last => match &r.expr {
                    Some(e) => value = self.expr(e),
                    None => self
                        .cx
                        .error_spanned_by(r, "the function must return its value"),
                },
                syn::Stmt::Local(local) => {
                    self.local(local);
                    if last {
                        self.cx.error_spanned_by(
                            local,
                            "the body must end with the value of the function (an expression without `;`), not a `let`",
                        );
                    }
                }
                other => {
                    self.statement(other);
                    if last {
                        self.cx.error_spanned_by(
                            other,
                            "the body must end with the value of the function (an expression without `;`)",
                        );
                    }
                }
            }
        }
        if n == 0 {
            self.cx
                .error_spanned_by(block, "the body must end with the value of the function");
        }
        self.scopes.pop();
        value
    }

    fn local(&mut self, local: &syn::Local) {
        let (ident, annotated) = match &local.pat {
            Pat::Ident(pi) if pi.subpat.is_none() => (Some(&pi.ident), None),
            Pat::Type(pt) => match &*pt.pat {
                Pat::Ident(pi) if pi.subpat.is_none() => (Some(&pi.ident), Some(&*pt.ty)),
                _ => (None, Some(&*pt.ty)),
            },
            _ => (None, None),
        };
        let init = local.init.as_ref();
        let active_init = init.is_some_and(|i| {
            self.mentions_active(&i.expr)
                || i.diverge
                    .as_ref()
                    .is_some_and(|d| self.mentions_active(&d.1))
        });
        if let (Some(ident), Some(init), true) = (ident, init, active_init) {
            if init.diverge.is_some() {
                self.cx.error_spanned_by(
                    local,
                    "`let .. else` is not supported on a path from a variable",
                );
                return;
            }
            let Some(node) = self.expr(&init.expr) else {
                // Keep the name bound so later uses do not report a second, spurious error.
                self.shadow_with_constant(ident.clone());
                return;
            };
            if self.g.is_active(node) {
                self.bind(ident.to_string(), node);
                if !self.g.op(node).is_leaf() {
                    self.g
                        .names
                        .entry(node)
                        .or_insert_with(|| ident.to_string());
                }
                return;
            }
            // A value that mentions a variable but does not depend on it (e.g. its length).
            return self.constant_local(local, Some(ident), annotated, Some(node));
        }
        if active_init || (ident.is_none() && init.is_some_and(|i| self.mentions_active(&i.expr))) {
            self.cx.error_spanned_by(
                &local.pat,
                "destructuring is not supported on a path from a variable: bind one name",
            );
            return;
        }
        // Lower it only to learn its type; the statement itself is emitted as written.
        let lowered = init.and_then(|i| self.expr(&i.expr));
        // A vector of ones is a node of its own, so that products with it become sums and
        // broadcasts; the statement is kept for any copied code that names it.
        if let (Some(ident), Some(n), None) = (ident, lowered, annotated) {
            if matches!(self.g.op(n), Op::Ones) {
                self.stmts.push(Stmt {
                    tokens: local.to_token_stream(),
                    alias: None,
                    optional: Some(ident.to_string()),
                });
                self.bind(ident.to_string(), n);
                return;
            }
        }
        self.constant_local(local, ident, annotated, lowered);
    }

    fn constant_local(
        &mut self,
        local: &syn::Local,
        ident: Option<&Ident>,
        annotated: Option<&syn::Type>,
        lowered: Option<NodeId>,
    ) {
        self.stmts.push(Stmt {
            tokens: local.to_token_stream(),
            alias: None,
            optional: None,
        });
        let Some(ident) = ident else {
            // Other patterns bind names matgrad does not track; uses of them are constants.
            let mut names = Vec::new();
            collect_pat_idents(&local.pat, &mut names);
            for name in names {
                self.scopes.last_mut().map(|s| s.remove(&name.to_string()));
                self.shadow_with_constant(name);
            }
            return;
        };
        let k = self.g.locals.len();
        let alias = format_ident!("__mg_l{}", k);
        let text = ident.to_string();
        self.g.locals.push(Leaf {
            code: quote!(#ident),
            text: text.clone(),
            alias: alias.clone(),
        });
        if let Some(last) = self.stmts.last_mut() {
            last.alias = Some((alias.clone(), ident.clone()));
        }
        let ty = match annotated
            .map(|t| classify(t, &self.f.scalars))
            .map(|i| i.kind)
        {
            Some(TypeKind::Scalar) => Ty::Scalar,
            Some(TypeKind::Matrix { rows, cols }) => {
                Ty::Matrix(self.fresh_shape(&text, rows, cols, &alias))
            }
            Some(TypeKind::Other) => Ty::Unknown,
            None => match lowered.map(|n| self.ty(n)) {
                Some(Ty::Matrix(s)) => {
                    let rows = if matches!(s.rows, Dim::Fixed(_)) {
                        Axis::Fixed(1)
                    } else {
                        Axis::Dyn
                    };
                    let cols = if matches!(s.cols, Dim::Fixed(_)) {
                        Axis::Fixed(1)
                    } else {
                        Axis::Dyn
                    };
                    let mut fresh = self.fresh_shape(&text, rows, cols, &alias);
                    // Keep the type's fixed sizes as they are.
                    if let Dim::Fixed(n) = s.rows {
                        fresh.rows = Dim::Fixed(n);
                    }
                    if let Dim::Fixed(n) = s.cols {
                        fresh.cols = Dim::Fixed(n);
                    }
                    let _ = self.g.dims.unify(fresh.rows, s.rows);
                    let _ = self.g.dims.unify(fresh.cols, s.cols);
                    Ty::Matrix(fresh)
                }
                Some(t) => t,
                None => Ty::Unknown,
            },
        };
        let node = self.mk(Op::Local(k), vec![], ty, ident.span());
        self.bind(ident.to_string(), node);
    }

    fn shadow_with_constant(&mut self, name: Ident) {
        let text = name.to_string();
        let n = self.opaque_code(quote!(#name), text, Ty::Unknown, name.span());
        self.bind(name.to_string(), n);
    }

    fn statement(&mut self, stmt: &syn::Stmt) {
        match stmt {
            syn::Stmt::Item(_) => self.stmts.push(Stmt {
                tokens: stmt.to_token_stream(),
                alias: None,
                optional: None,
            }),
            syn::Stmt::Expr(e, _) => {
                if let Some(msg) = mutation(e) {
                    if self.mentions_active(e) {
                        self.cx.error_spanned_by(e, msg);
                        return;
                    }
                }
                if let Expr::Return(_) = e {
                    self.cx.error_spanned_by(e, "an early `return` is not supported: the value must be the body's last expression");
                    return;
                }
                if self.mentions_active(e) {
                    let msg = match e {
                        Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_) => "matgrad cannot differentiate a loop: write the computation as matrix operations (a sum over entries is `.sum()`, a sum of products is a matrix product)",
                        Expr::If(_) | Expr::Match(_) => "matgrad cannot differentiate a branch (`if` or `match`): the gradient would depend on which branch runs",
                        _ => "matgrad cannot differentiate through a statement that uses a variable: statements other than `let` may only use constants",
                    };
                    self.cx.error_spanned_by(e, msg);
                    return;
                }
                self.stmts.push(Stmt {
                    tokens: stmt.to_token_stream(),
                    alias: None,
                    optional: None,
                });
            }
            syn::Stmt::Macro(m) => {
                if self.mentions_active(&m.mac.tokens) {
                    self.cx.error_spanned_by(
                        m,
                        "macro calls are not supported on a path from a variable: matgrad cannot see inside them",
                    );
                    return;
                }
                self.stmts.push(Stmt {
                    tokens: stmt.to_token_stream(),
                    alias: None,
                    optional: None,
                });
            }
            syn::Stmt::Local(l) => self.local(l),
        }
    }

    // ---- expressions ------------------------------------------------------------------------

    fn expr(&mut self, e: &Expr) -> Option<NodeId> {
        if self.depth >= MAX_DEPTH {
            self.cx.error_spanned_by(
                e,
                format!("this expression is nested more than {MAX_DEPTH} levels deep, more than matgrad reads: split it into `let` bindings"),
            );
            return None;
        }
        self.depth += 1;
        let out = self.expr_inner(e);
        self.depth -= 1;
        out
    }

    fn expr_inner(&mut self, e: &Expr) -> Option<NodeId> {
        match e {
            Expr::Paren(p) => self.expr(&p.expr),
            Expr::Group(g) => self.expr(&g.expr),
            Expr::Reference(r) if r.mutability.is_none() => self.expr(&r.expr),
            Expr::Unary(u) => match u.op {
                UnOp::Deref(_) => self.expr(&u.expr),
                UnOp::Neg(_) => {
                    let a = self.expr(&u.expr)?;
                    match self.ty(a) {
                        Ty::Unknown if !self.g.is_active(a) => Some(self.opaque(e, Ty::Unknown)),
                        ty => Some(self.mk(Op::Neg, vec![a], ty, u.op.span())),
                    }
                }
                _ => self.fallback(e, "the operator `!`", ""),
            },
            Expr::Lit(l) => match &l.lit {
                Lit::Float(f) => match f.base10_parse::<f64>() {
                    Ok(v) => Some(self.mk(Op::lit(v), vec![], Ty::Scalar, f.span())),
                    Err(err) => {
                        self.cx.push(err);
                        None
                    }
                },
                _ => Some(self.opaque(e, Ty::Unknown)),
            },
            Expr::Path(p) => {
                if let Some(id) = p.path.get_ident() {
                    if let Some(b) = self.lookup(&id.to_string()) {
                        return Some(b.node);
                    }
                }
                let ty = if p.path.segments.iter().any(|s| s.ident == "consts") { Ty::Scalar } else { Ty::Unknown };
                Some(self.opaque(e, ty))
            }
            Expr::Binary(b) => self.binary(b, e),
            Expr::MethodCall(m) => self.method(m, e),
            Expr::Call(c) => self.call(c, e),
            Expr::Index(i) => self.index(i, e),
            Expr::Cast(c) => self.cast(c, e),
            Expr::Block(b) if b.label.is_none() => self.block_value(&b.block),
            Expr::If(_) | Expr::Match(_) => {
                self.fallback(e, "a branch (`if` or `match`)", "the gradient would depend on which branch runs; compute both and combine them arithmetically, or move the branch into a constant")
            }
            Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_) => {
                self.fallback(e, "a loop", "write the computation as matrix operations (a sum over rows is a product with a vector of ones)")
            }
            Expr::Macro(m) => {
                let name = m.mac.path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
                self.fallback(e, &format!("the macro call `{name}!`"), "matgrad cannot see inside macros")
            }
            Expr::Assign(_) => self.fallback(e, "an assignment", "mutation is not supported on a path from a variable; bind a new name with `let`"),
            Expr::Closure(_) => self.fallback(e, "a closure here", "closures are supported as the argument of `.map(..)`"),
            Expr::Try(_) => self.fallback(e, "the `?` operator", "unwrap or expect the value instead"),
            Expr::Tuple(_) => self.fallback(e, "a tuple", "the value must be one scalar, vector or matrix"),
            Expr::Field(f) => {
                let member = &f.member;
                self.fallback(e, &format!("the field `.{}`", quote!(#member)), "matgrad reads operators and the methods it lists, not the fields of what another operation returns (decompositions other than `lu` and `cholesky` are not differentiated)")
            }
            _ => self.fallback(e, "this expression", ""),
        }
    }

    fn binary(&mut self, b: &syn::ExprBinary, whole: &Expr) -> Option<NodeId> {
        let op = &b.op;
        match op {
            BinOp::Add(_) | BinOp::Sub(_) | BinOp::Mul(_) | BinOp::Div(_) => {}
            BinOp::AddAssign(_)
            | BinOp::SubAssign(_)
            | BinOp::MulAssign(_)
            | BinOp::DivAssign(_) => {
                return self.fallback(whole, &format!("`{}`", quote!(#op)), "mutation is not supported on a path from a variable; bind a new name with `let`");
            }
            _ => {
                return self.fallback(
                    whole,
                    &format!("the operator `{}`", quote!(#op)),
                    "the supported operators are `+ - * /` and unary `-`",
                )
            }
        }
        let l = self.expr(&b.left);
        let r = self.expr(&b.right);
        let (l, r) = (l?, r?);
        let (tl, tr) = (self.ty(l), self.ty(r));
        let active = self.g.is_active(l) || self.g.is_active(r);
        if (tl == Ty::Unknown || tr == Ty::Unknown) && !active {
            return Some(self.opaque(whole, Ty::Unknown));
        }
        let is_sum = matches!(op, BinOp::Add(_) | BinOp::Sub(_));
        // Inside a `map` closure every value other than the entry is a scalar.
        if self.elementwise.is_some() {
            for n in [l, r] {
                if self.ty(n) == Ty::Unknown {
                    self.settle(n, Ty::Scalar);
                }
            }
        }
        if is_sum {
            if tl == Ty::Unknown {
                self.settle(l, tr);
            }
            if tr == Ty::Unknown {
                self.settle(r, tl);
            }
        }
        for (n, side) in [(l, &b.left), (r, &b.right)] {
            if self.ty(n) == Ty::Unknown {
                let t = text_of(side);
                self.cx.error_spanned_by(
                    side,
                    format!("matgrad cannot tell whether `{t}` is a scalar or a matrix: bind it first with a type, e.g. `let c: f64 = {t};` or `let c: DMatrix<f64> = {t};`"),
                );
                return None;
            }
        }
        let (tl, tr) = (self.ty(l), self.ty(r));
        let span = op.span();
        let ew = self.elementwise.is_some();
        let (le, re) = (&*b.left, &*b.right);
        match op {
            BinOp::Add(_) if softplus_argument(&self.g, l, r).is_some() => {
                let v = softplus_argument(&self.g, l, r)?;
                let ty = self.ty(v);
                Some(self.mk(Op::Elem(Func::Softplus), vec![v], ty, span))
            }
            BinOp::Add(_) | BinOp::Sub(_) => {
                let sub = matches!(op, BinOp::Sub(_));
                match (tl, tr) {
                    (Ty::Scalar, Ty::Scalar) => Some(self.mk(
                        if sub { Op::Sub } else { Op::Add },
                        vec![l, r],
                        Ty::Scalar,
                        span,
                    )),
                    (Ty::Matrix(_), Ty::Matrix(_)) => {
                        let verb = if sub { "subtract" } else { "add" };
                        let s = self.same_shape(l, r, op, verb, le, re)?;
                        Some(self.mk(
                            if sub { Op::Sub } else { Op::Add },
                            vec![l, r],
                            Ty::Matrix(s),
                            span,
                        ))
                    }
                    (Ty::Matrix(_), Ty::Scalar) if ew => {
                        let s = if sub {
                            self.mk(Op::Neg, vec![r], Ty::Scalar, span)
                        } else {
                            r
                        };
                        Some(self.mk(Op::AddScalar, vec![l, s], tl, span))
                    }
                    (Ty::Scalar, Ty::Matrix(_)) if ew => {
                        let m = if sub {
                            self.mk(Op::Neg, vec![r], tr, span)
                        } else {
                            r
                        };
                        Some(self.mk(Op::AddScalar, vec![m, l], tr, span))
                    }
                    _ => {
                        self.cx.error_spanned_by(op, "cannot add a scalar and a matrix: use `m.add_scalar(s)` to add to every entry");
                        None
                    }
                }
            }
            BinOp::Mul(_) => match (tl, tr) {
                (Ty::Scalar, Ty::Scalar) => Some(self.mk(Op::Mul, vec![l, r], Ty::Scalar, span)),
                (Ty::Scalar, Ty::Matrix(_)) => Some(self.mk(Op::Scale, vec![l, r], tr, span)),
                (Ty::Matrix(_), Ty::Scalar) => Some(self.mk(Op::Scale, vec![r, l], tl, span)),
                (Ty::Matrix(sa), Ty::Matrix(sb)) if ew => {
                    let _ = (sa, sb);
                    let s = self.same_shape(l, r, op, "multiply entrywise", le, re)?;
                    Some(self.mk(Op::Mul, vec![l, r], Ty::Matrix(s), span))
                }
                (Ty::Matrix(sa), Ty::Matrix(sb)) => {
                    let (ta, tb) = (self.shape_text(sa), self.shape_text(sb));
                    let (la, lb) = (text_of(le), text_of(re));
                    let ok = self.unify(sa.cols, sb.rows, op, |g| {
                        format!(
                            "cannot multiply `{la}` ({ta}) by `{lb}` ({tb}): inner dimensions {} and {} differ",
                            describe_dim(g, sa.cols),
                            describe_dim(g, sb.rows)
                        )
                    });
                    if !ok {
                        return None;
                    }
                    // x * x * x is the matrix power x³, computed by squaring.
                    let power = |g: &Graph, n: NodeId| match g.op(n) {
                        Op::MatPow(k) => (g.args(n)[0], *k),
                        _ => (n, 1),
                    };
                    let ((x, i), (y, j)) = (power(&self.g, l), power(&self.g, r));
                    let square = self
                        .g
                        .shape(x)
                        .is_some_and(|s| self.g.dims.same(s.rows, s.cols));
                    // Up to x⁶⁴: the derivative of xᵏ has k terms.
                    if let (true, Some(k)) = (
                        x == y && square,
                        i.checked_add(j).filter(|&k| k <= MAX_POWER),
                    ) {
                        let ty = self.ty(x);
                        return Some(self.mk(Op::MatPow(k), vec![x], ty, span));
                    }
                    if let Some(n) = self.g.product_with_ones(l, r) {
                        self.g.set_span(n, span);
                        return Some(n);
                    }
                    let ty = Ty::Matrix(Shape::new(sa.rows, sb.cols));
                    Some(self.mk(Op::MatMul, vec![l, r], ty, span))
                }
                _ => None,
            },
            BinOp::Div(_) => match (tl, tr) {
                (Ty::Scalar, Ty::Scalar) | (Ty::Matrix(_), Ty::Scalar) => {
                    Some(self.mk(Op::Div, vec![l, r], tl, span))
                }
                (Ty::Scalar, Ty::Matrix(_)) if ew => {
                    let rec = self.mk(Op::Elem(Func::Recip), vec![r], tr, span);
                    Some(self.mk(Op::Scale, vec![l, rec], tr, span))
                }
                (Ty::Matrix(_), Ty::Matrix(_)) if ew => {
                    let s = self.same_shape(l, r, op, "divide entrywise", le, re)?;
                    Some(self.mk(Op::Div, vec![l, r], Ty::Matrix(s), span))
                }
                _ => {
                    self.cx.error_spanned_by(op, "cannot divide by a matrix: use `a.component_div(&b)` for entrywise division, or multiply by `b.clone().try_inverse().unwrap()`");
                    None
                }
            },
            _ => None,
        }
    }

    fn method(&mut self, m: &syn::ExprMethodCall, whole: &Expr) -> Option<NodeId> {
        let name = m.method.to_string();
        let span = m.method.span();
        let nargs = m.args.len();
        // `.try_inverse().unwrap()` and `.try_inverse().expect(..)`
        if (name == "unwrap" && nargs == 0) || (name == "expect" && nargs == 1) {
            if let Some(n) = self.unwrapped(m, whole, span) {
                return n;
            }
            if let Expr::MethodCall(inner) = strip(&m.receiver) {
                if inner.method == "try_inverse" && inner.args.is_empty() {
                    let a = self.expr(&inner.receiver)?;
                    return self.matrix_unary(
                        a,
                        Op::Inverse,
                        "try_inverse",
                        &inner.receiver,
                        whole,
                        span,
                        None,
                    );
                }
            }
        }
        // Shape queries: constants, even on a variable.
        if matches!(name.as_str(), "nrows" | "ncols" | "len") && nargs == 0 {
            let recv = self.expr(&m.receiver)?;
            return self.shape_query(recv, &name, whole);
        }
        if matches!(name.as_str(), "clone" | "clone_owned" | "into_owned") && nargs == 0 {
            return self.expr(&m.receiver);
        }
        let recv = self.expr(&m.receiver)?;
        let args: Vec<&Expr> = m.args.iter().collect();
        if let Some(&factor) = self.factors.get(&recv) {
            if let Some(n) = self.factor_method(factor, m, whole) {
                return n;
            }
        }
        let active = self.g.is_active(recv) || args.iter().any(|a| self.mentions_active(*a));
        if active && name == "lu" && nargs == 0 && self.ty(recv).is_matrix() {
            if !self.require_square(recv, "lu", &m.receiver, whole) {
                return None;
            }
            self.factors.insert(recv, Factor::Lu(recv));
            return Some(recv);
        }
        if active && self.elementwise.is_none() && self.ty(recv).is_matrix() {
            if let Some(n) = self.structural(recv, m, whole) {
                return n;
            }
        }
        if !active && (self.ty(recv) == Ty::Unknown || name == "map") {
            return Some(self.opaque(whole, guess_ty(whole)));
        }
        let ty = self.ty(recv);
        let is_matrix = ty.is_matrix();
        let known = match (name.as_str(), nargs) {
            ("transpose", 0) if is_matrix => {
                let s = self.g.shape(recv)?;
                return Some(self.mk(Op::Transpose, vec![recv], Ty::Matrix(s.transposed()), span));
            }
            ("trace", 0) if is_matrix => {
                return self.matrix_unary(
                    recv,
                    Op::Trace,
                    "trace",
                    &m.receiver,
                    whole,
                    span,
                    Some(Ty::Scalar),
                )
            }
            ("determinant", 0) if is_matrix => {
                return self.matrix_unary(
                    recv,
                    Op::Det,
                    "determinant",
                    &m.receiver,
                    whole,
                    span,
                    Some(Ty::Scalar),
                )
            }
            ("norm_squared", 0) if is_matrix => Some((Op::NormSq, Ty::Scalar)),
            ("norm", 0) if is_matrix => Some((Op::Norm, Ty::Scalar)),
            ("sum", 0) if is_matrix => Some((Op::Sum, Ty::Scalar)),
            // mean(A) = sum(A) / (number of entries)
            ("mean", 0) if is_matrix => {
                let s = self.g.shape(recv)?;
                let (r, c) = (self.dim_code(s.rows)?, self.dim_code(s.cols)?);
                let scalar = &self.f.scalar;
                let count = if matches!(text_of(scalar).as_str(), "f64" | "f32") {
                    quote!(((#r * #c) as #scalar))
                } else {
                    quote!(::matgrad::nalgebra::convert::<f64, #scalar>((#r * #c) as f64))
                };
                // Shown as `n`, the number of entries, as in the textbook 2 Xᵀ(Xw − y) / n.
                let n = self.opaque_code(count, "n".to_string(), Ty::Scalar, span);
                let sum = self.mk(Op::Sum, vec![recv], Ty::Scalar, span);
                return Some(self.mk(Op::Div, vec![sum, n], Ty::Scalar, span));
            }
            ("map", 1) if is_matrix => return self.map(recv, args[0], whole),
            ("component_mul" | "component_div" | "dot", 1) if is_matrix => {
                let b = self.matrix_arg(args[0], &name)?;
                let verb = if name == "dot" {
                    "take the dot product of"
                } else {
                    "combine entrywise"
                };
                let s = self.same_shape(recv, b, &m.method, verb, &m.receiver, args[0])?;
                let (op, ty) = match name.as_str() {
                    "component_mul" => (Op::Mul, Ty::Matrix(s)),
                    "component_div" => (Op::Div, Ty::Matrix(s)),
                    _ => (Op::Dot, Ty::Scalar),
                };
                return Some(self.mk(op, vec![recv, b], ty, span));
            }
            ("tr_mul", 1) if is_matrix => {
                let b = self.matrix_arg(args[0], &name)?;
                let (sa, sb) = (self.g.shape(recv)?, self.g.shape(b)?);
                let (ta, tb) = (self.shape_text(sa), self.shape_text(sb));
                let (la, lb) = (text_of(&m.receiver), text_of(args[0]));
                let ok = self.unify(sa.rows, sb.rows, &m.method, |_| {
                    format!("cannot compute `{la}ᵀ {lb}`: `{la}` is {ta} and `{lb}` is {tb}, their row counts differ")
                });
                if !ok {
                    return None;
                }
                let t = self.mk(Op::Transpose, vec![recv], Ty::Matrix(sa.transposed()), span);
                return Some(self.mk(
                    Op::MatMul,
                    vec![t, b],
                    Ty::Matrix(Shape::new(sa.cols, sb.cols)),
                    span,
                ));
            }
            ("kronecker", 1) if is_matrix => {
                let b = self.matrix_arg(args[0], &name)?;
                let (sa, sb) = (self.g.shape(recv)?, self.g.shape(b)?);
                let rows = self.dim_product(sa.rows, sb.rows, "rows of a Kronecker product");
                let cols = self.dim_product(sa.cols, sb.cols, "columns of a Kronecker product");
                return Some(self.mk(
                    Op::Kron,
                    vec![recv, b],
                    Ty::Matrix(Shape::new(rows, cols)),
                    span,
                ));
            }
            ("add_scalar", 1) if is_matrix => {
                let s = self.expr(args[0])?;
                if self.ty(s) != Ty::Scalar {
                    self.settle(s, Ty::Scalar);
                }
                return Some(self.mk(Op::AddScalar, vec![recv, s], ty, span));
            }
            ("powi", 1) if !is_matrix || self.elementwise.is_some() => {
                // Exponents far beyond any use would overflow k − 1 in the derivative.
                let in_range = |k: &i64| k.abs() <= 1_000_000;
                let Some(k) = int_literal(args[0])
                    .filter(in_range)
                    .and_then(|k| i32::try_from(k).ok())
                else {
                    if !active {
                        return Some(self.opaque(whole, ty));
                    }
                    self.cx.error_spanned_by(args[0], "`powi` needs an integer literal exponent here (e.g. `.powi(2)`); for other exponents use `.powf(..)`");
                    return None;
                };
                Some((Op::Powi(k), ty))
            }
            ("max" | "min", 1) if !is_matrix || self.elementwise.is_some() => {
                let c = self.expr(args[0])?;
                self.settle(c, Ty::Scalar);
                if self.ty(c) != Ty::Scalar {
                    self.cx.error_spanned_by(
                        args[0],
                        format!("the argument of `{name}` must be a scalar"),
                    );
                    return None;
                }
                let op = if name == "max" { Op::Max } else { Op::Min };
                return Some(self.mk(op, vec![recv, c], ty, span));
            }
            ("powf", 1) if !is_matrix || self.elementwise.is_some() => {
                let c = self.expr(args[0])?;
                self.settle(c, Ty::Scalar);
                if self.ty(c) != Ty::Scalar {
                    self.cx
                        .error_spanned_by(args[0], "the exponent of `powf` must be a scalar");
                    return None;
                }
                return Some(self.mk(Op::Powf, vec![recv, c], ty, span));
            }
            (f, 0)
                if Func::from_method(f).is_some() && (!is_matrix || self.elementwise.is_some()) =>
            {
                Func::from_method(f).map(|func| (Op::Elem(func), ty))
            }
            _ => None,
        };
        if let Some((op, ty)) = known {
            return Some(self.mk(op, vec![recv], ty, span));
        }
        if !active {
            return Some(self.opaque(whole, guess_ty(whole)));
        }
        let call = if nargs == 0 {
            format!(".{name}()")
        } else {
            format!(".{name}(..)")
        };
        let is_matrix = is_matrix && self.elementwise.is_none();
        let msg = if is_matrix && Func::from_method(&name).is_some() {
            format!("`.{name}()` on a matrix is not entrywise in nalgebra, and matgrad does not differentiate it: for the entrywise function write `.map(|v| v.{name}())`")
        } else if is_matrix {
            format!("matgrad cannot differentiate `{call}` on a path from a variable; the supported matrix methods are {MATRIX_METHODS} ({CONSTANTS_NOTE})")
        } else {
            format!("matgrad cannot differentiate `{call}` on a path from a variable; the supported scalar functions are {SCALAR_METHODS} ({CONSTANTS_NOTE})")
        };
        self.cx.error_spanned_by(&m.method, msg);
        None
    }

    #[allow(clippy::too_many_arguments)]
    fn matrix_unary(
        &mut self,
        a: NodeId,
        op: Op,
        what: &str,
        recv: &Expr,
        whole: &Expr,
        span: Span,
        ty: Option<Ty>,
    ) -> Option<NodeId> {
        if !self.ty(a).is_matrix() {
            if !self.g.is_active(a) {
                return Some(self.opaque(whole, ty.unwrap_or(Ty::Unknown)));
            }
            self.cx
                .error_spanned_by(recv, format!("`{what}` needs a matrix"));
            return None;
        }
        if !self.require_square(a, what, recv, whole) {
            return None;
        }
        let ty = ty.unwrap_or(self.ty(a));
        Some(self.mk(op, vec![a], ty, span))
    }

    fn matrix_arg(&mut self, e: &Expr, method: &str) -> Option<NodeId> {
        let n = self.expr(e)?;
        if self.ty(n) == Ty::Unknown {
            let t = text_of(e);
            self.cx.error_spanned_by(e, format!("matgrad cannot tell the type of `{t}`: bind it first with a type, e.g. `let b: DMatrix<f64> = {t};`"));
            return None;
        }
        if !self.ty(n).is_matrix() {
            self.cx.error_spanned_by(
                e,
                format!("the argument of `{method}` must be a matrix or vector"),
            );
            return None;
        }
        Some(n)
    }

    fn dim_product(&mut self, a: Dim, b: Dim, name: &str) -> Dim {
        match (a, b) {
            (Dim::Fixed(x), Dim::Fixed(y)) if x.checked_mul(y).is_some() => Dim::Fixed(x * y),
            _ => {
                let v = self.g.dims.fresh_product(name, a, b);
                let (ca, cb) = (self.dim_code(a), self.dim_code(b));
                if let (Some(ca), Some(cb)) = (ca, cb) {
                    self.g
                        .dims
                        .add_source(v, DimSource::Expr(quote!((#ca * #cb))));
                }
                if let (Some(x), Some(y)) = (self.g.dims.known(a), self.g.dims.known(b)) {
                    let _ = x
                        .checked_mul(y)
                        .map(|xy| self.g.dims.unify(Dim::Dyn(v), Dim::Fixed(xy)));
                }
                Dim::Dyn(v)
            }
        }
    }

    fn dim_code(&self, d: Dim) -> Option<TokenStream> {
        match d {
            Dim::Fixed(n) => Some(quote!(#n)),
            Dim::Dyn(v) => self.g.dims.runtime(v).cloned(),
        }
    }

    /// `x.nrows()`, `x.ncols()`, `x.len()`: sizes, which never depend on a variable's values.
    fn shape_query(&mut self, recv: NodeId, name: &str, whole: &Expr) -> Option<NodeId> {
        let Some(s) = self.g.shape(recv) else {
            return Some(self.opaque(whole, Ty::Unknown));
        };
        let code = match name {
            "nrows" => self.dim_code(s.rows),
            "ncols" => self.dim_code(s.cols),
            _ => match (self.dim_code(s.rows), self.dim_code(s.cols)) {
                (Some(r), Some(c)) => Some(quote!((#r * #c))),
                _ => None,
            },
        };
        match code {
            Some(code) => Some(self.opaque_code(code, text_of(whole), Ty::Unknown, whole.span())),
            None => self.fallback(whole, &format!("`.{name}()` here"), ""),
        }
    }

    fn map(&mut self, recv: NodeId, closure: &Expr, whole: &Expr) -> Option<NodeId> {
        let shape = self.g.shape(recv)?;
        let Expr::Closure(c) = strip(closure) else {
            return self.fallback(
                whole,
                "`map` with a function that is not a closure",
                "write the function as a closure, `.map(|v| ..)`",
            );
        };
        if c.inputs.len() != 1 {
            self.cx.error_spanned_by(
                &c.inputs,
                "the closure of `map` takes one argument, the entry",
            );
            return None;
        }
        let name = match &c.inputs[0] {
            Pat::Ident(pi) => Some(pi.ident.to_string()),
            Pat::Type(pt) => match &*pt.pat {
                Pat::Ident(pi) => Some(pi.ident.to_string()),
                _ => None,
            },
            Pat::Wild(_) => None,
            other => {
                self.cx.error_spanned_by(
                    other,
                    "the closure of `map` must take its argument by a plain name, `|v| ..`",
                );
                return None;
            }
        };
        self.scopes.push(HashMap::new());
        if let Some(name) = name {
            self.bind(name, recv);
        }
        let saved = self.elementwise.replace(shape);
        let body = self.expr(&c.body);
        self.elementwise = saved;
        self.scopes.pop();
        let body = body?;
        match self.ty(body) {
            Ty::Matrix(_) => Some(body),
            Ty::Scalar => {
                // Every entry maps to the same value: a constant matrix, s J.
                let ones = self.mk(Op::Ones, vec![], Ty::Matrix(shape), whole.span());
                Some(self.mk(Op::Scale, vec![body, ones], Ty::Matrix(shape), whole.span()))
            }
            Ty::Unknown => {
                self.cx.error_spanned_by(&c.body, "matgrad cannot tell the type of this closure's value: the closure of `map` must return a scalar");
                None
            }
        }
    }

    fn call(&mut self, c: &syn::ExprCall, whole: &Expr) -> Option<NodeId> {
        let path = match &*c.func {
            Expr::Path(p) => Some(&p.path),
            _ => None,
        };
        let segs: Vec<String> = path
            .map(|p| p.segments.iter().map(|s| s.ident.to_string()).collect())
            .unwrap_or_default();
        let last = segs.last().map(String::as_str).unwrap_or("");
        let owner = if segs.len() >= 2 {
            segs[segs.len() - 2].as_str()
        } else {
            ""
        };
        // `DMatrix::identity(r, c)`, `DMatrix::<f64>::identity(r, c)`
        if last == "identity"
            && c.args.len() == 2
            && matches!(owner, "DMatrix" | "OMatrix" | "Matrix")
        {
            let r = self.dim_arg(&c.args[0])?;
            let cc = self.dim_arg(&c.args[1])?;
            return Some(self.mk(
                Op::Identity,
                vec![],
                Ty::Matrix(Shape::new(r, cc)),
                whole.span(),
            ));
        }
        // Vectors built from scalars: `Vector3::new(a, b, c)`, `DVector::from_vec(vec![a, b])`,
        // `DVector::from_column_slice(&[a, b])`.
        if let Some(parts) = vector_parts(owner, last, c) {
            if self.mentions_active(whole) {
                return self.stack(&parts, owner != "DVector", whole);
            }
        }
        // `DMatrix::from_diagonal(&v)`
        if last == "from_diagonal" && c.args.len() == 1 && self.mentions_active(whole) {
            let v = self.matrix_arg(&c.args[0], "from_diagonal")?;
            let s = self.g.shape(v)?;
            let t = text_of(&c.args[0]);
            if !self.unify(s.cols, Dim::Fixed(1), &c.args[0], |_| {
                format!("`from_diagonal` takes a column vector, and `{t}` is not one")
            }) {
                return None;
            }
            let ty = Ty::Matrix(Shape::new(s.rows, s.rows));
            return Some(self.mk(Op::FromDiagonal, vec![v], ty, whole.span()));
        }
        // `DVector::from_element(n, 1.0)`, `DMatrix::from_element(r, c, 1.0)`: a vector of
        // ones is built only where nothing turns it into a sum or a broadcast.
        if let Some(ones) = self.ones(owner, last, c, whole) {
            return Some(ones);
        }
        // `nalgebra::convert::<f64, T>(0.5)`: a constant of the scalar type.
        if last == "convert" && c.args.len() == 1 {
            if let Expr::Lit(syn::ExprLit {
                lit: Lit::Float(f), ..
            }) = strip(&c.args[0])
            {
                if let Ok(v) = f.base10_parse::<f64>() {
                    return Some(self.mk(Op::lit(v), vec![], Ty::Scalar, f.span()));
                }
            }
            if !self.mentions_active(whole) {
                return Some(self.opaque(whole, Ty::Scalar));
            }
        }
        // `f64::exp(x)` is `x.exp()`.
        if matches!(owner, "f64" | "f32")
            && c.args.len() == 1
            && (Func::from_method(last).is_some())
        {
            let a = self.expr(&c.args[0])?;
            if self.ty(a) == Ty::Scalar || self.elementwise.is_some() {
                let f = Func::from_method(last)?;
                let ty = self.ty(a);
                return Some(self.mk(Op::Elem(f), vec![a], ty, whole.span()));
            }
        }
        let name = segs.join("::");
        self.fallback(
            whole,
            &format!("the call of `{name}`"),
            "matgrad sees only this function's body, so calls of other functions may only take constants; inline the function here",
        )
    }

    /// The column vector of the scalars `parts`, of static length or a `DVector`.
    fn stack(&mut self, parts: &[Expr], fixed: bool, whole: &Expr) -> Option<NodeId> {
        let mut nodes = Vec::new();
        for p in parts {
            let n = self.expr(p)?;
            self.settle(n, Ty::Scalar);
            if self.ty(n) != Ty::Scalar {
                self.cx
                    .error_spanned_by(p, "the entries of a vector built here must be scalars");
                return None;
            }
            nodes.push(n);
        }
        let k = nodes.len();
        let rows = if fixed {
            Dim::Fixed(k)
        } else {
            let v = self
                .g
                .dims
                .fresh(format!("the length of `{}`", text_of(whole)));
            let _ = self.g.dims.unify(Dim::Dyn(v), Dim::Fixed(k));
            self.g.dims.add_source(v, DimSource::Expr(quote!(#k)));
            Dim::Dyn(v)
        };
        Some(self.mk(
            Op::Stack,
            nodes,
            Ty::Matrix(Shape::new(rows, Dim::Fixed(1))),
            whole.span(),
        ))
    }

    /// A size argument (`x.nrows()`, a literal, a constant `usize`).
    fn dim_arg(&mut self, e: &Expr) -> Option<Dim> {
        if let Expr::MethodCall(m) = strip(e) {
            if m.args.is_empty()
                && matches!(m.method.to_string().as_str(), "nrows" | "ncols" | "len")
            {
                let recv = self.expr(&m.receiver)?;
                if let Some(s) = self.g.shape(recv) {
                    match m.method.to_string().as_str() {
                        "nrows" => return Some(s.rows),
                        "ncols" => return Some(s.cols),
                        _ if s.cols == Dim::Fixed(1) => return Some(s.rows),
                        _ if s.rows == Dim::Fixed(1) => return Some(s.cols),
                        _ => {}
                    }
                }
            }
        }
        let text = text_of(e);
        let v = self.g.dims.fresh(format!("`{text}`"));
        if let Some(n) = int_literal(e) {
            let n = n.max(0) as usize;
            let _ = self.g.dims.unify(Dim::Dyn(v), Dim::Fixed(n));
            self.g.dims.add_source(v, DimSource::Expr(quote!(#n)));
            return Some(Dim::Dyn(v));
        }
        let n = self.expr(e)?;
        if self.g.is_active(n) {
            self.cx
                .error_spanned_by(e, "a size cannot depend on a variable");
            return None;
        }
        let code = self.g.leaf_value_code(n).unwrap_or_else(|| quote!(#e));
        self.g.dims.add_source(v, DimSource::Expr(code));
        Some(Dim::Dyn(v))
    }

    fn index(&mut self, i: &syn::ExprIndex, whole: &Expr) -> Option<NodeId> {
        let a = self.expr(&i.expr)?;
        if !self.g.is_active(a) && !self.ty(a).is_matrix() {
            return Some(self.opaque(whole, Ty::Unknown));
        }
        let Some(shape) = self.g.shape(a) else {
            return self.fallback(whole, "indexing into this value", "");
        };
        let (row, col) = match strip(&i.index) {
            Expr::Tuple(t) if t.elems.len() == 2 => {
                (self.index_part(&t.elems[0])?, self.index_part(&t.elems[1])?)
            }
            single => {
                let k = self.index_part(single)?;
                if shape.cols == Dim::Fixed(1) {
                    (k, Index::Lit(0))
                } else if shape.rows == Dim::Fixed(1) {
                    (Index::Lit(0), k)
                } else {
                    return self.fallback(
                        whole,
                        "a linear index into a matrix",
                        "write the entry as `m[(i, j)]`",
                    );
                }
            }
        };
        Some(self.mk(
            Op::Entry(row, col),
            vec![a],
            Ty::Scalar,
            i.bracket_token.span.join(),
        ))
    }

    fn index_part(&mut self, e: &Expr) -> Option<Index> {
        if let Some(n) = int_literal(e) {
            if n >= 0 {
                return Some(Index::Lit(n as usize));
            }
        }
        if self.mentions_active(e) {
            self.cx
                .error_spanned_by(e, "an index or a view's bound cannot depend on a variable: which entries are read must not change with it; compute it from constants");
            return None;
        }
        let n = self.expr(e)?;
        let code = self.g.leaf_value_code(n).unwrap_or_else(|| quote!((#e)));
        Some(Index::Expr {
            code: code.to_string(),
            text: text_of(e),
        })
    }

    fn cast(&mut self, c: &syn::ExprCast, whole: &Expr) -> Option<NodeId> {
        let to_scalar = self.f.scalars.is_scalar(&c.ty);
        let inner = self.expr(&c.expr)?;
        if !self.g.is_active(inner) {
            let ty = if to_scalar { Ty::Scalar } else { Ty::Unknown };
            let target = &c.ty;
            return Some(match self.g.leaf_value_code(inner) {
                Some(code) => {
                    self.opaque_code(quote!((#code as #target)), text_of(whole), ty, whole.span())
                }
                None => self.opaque(whole, ty),
            });
        }
        if to_scalar && self.ty(inner) == Ty::Scalar {
            return Some(inner);
        }
        self.fallback(whole, "this cast", "")
    }
}

/// `v.max(0.0) + (-v.abs()).exp().ln_1p()` (either way round): the stable softplus, read as
/// the one smooth function ln(1 + eᵛ) it is. Returns v.
fn softplus_argument(g: &Graph, l: NodeId, r: NodeId) -> Option<NodeId> {
    let arg = |n: NodeId, op: &Op| (g.op(n) == op).then(|| g.args(n)[0]);
    let try_order = |max: NodeId, tail: NodeId| -> Option<NodeId> {
        if *g.op(max) != Op::Max || g.lit_value(g.args(max)[1]) != Some(0.0) {
            return None;
        }
        let v = g.args(max)[0];
        let e = arg(tail, &Op::Elem(Func::Ln1p))?;
        let n = arg(e, &Op::Elem(Func::Exp))?;
        let a = arg(n, &Op::Neg)?;
        let inner = arg(a, &Op::Elem(Func::Abs))?;
        (inner == v).then_some(v)
    };
    try_order(l, r).or_else(|| try_order(r, l))
}

fn collect_pat_idents(p: &Pat, out: &mut Vec<Ident>) {
    struct V<'o>(&'o mut Vec<Ident>);
    impl<'ast> Visit<'ast> for V<'_> {
        fn visit_pat_ident(&mut self, i: &'ast syn::PatIdent) {
            self.0.push(i.ident.clone());
            syn::visit::visit_pat_ident(self, i);
        }
    }
    V(out).visit_pat(p);
}

/// Why a statement mutates, if it does.
fn mutation(e: &Expr) -> Option<&'static str> {
    match e {
        Expr::Assign(_) => Some("mutation is not supported on a path from a variable: bind a new name with `let` instead of assigning"),
        Expr::Binary(b)
            if matches!(b.op, BinOp::AddAssign(_) | BinOp::SubAssign(_) | BinOp::MulAssign(_) | BinOp::DivAssign(_)) =>
        {
            Some("mutation is not supported on a path from a variable: write `let y = y + ..;` instead of `+=`")
        }
        Expr::MethodCall(m) if m.method.to_string().ends_with("_mut") => {
            Some("in-place methods are not supported on a path from a variable: use the method that returns a new value")
        }
        _ => None,
    }
}

/// What kind of value a constant expression has, as far as its syntax tells.
fn guess_ty(e: &Expr) -> Ty {
    match e {
        Expr::Paren(p) => guess_ty(&p.expr),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(_), ..
        }) => Ty::Scalar,
        Expr::Cast(c) if matches!(text_of(&c.ty).as_str(), "f64" | "f32") => Ty::Scalar,
        // `nalgebra::convert(..)`, `T::one()`, `T::zero()`, `T::from_f64(..)`: scalars.
        Expr::Call(c)
            if matches!(&*c.func, Expr::Path(p) if p.path.segments.last().is_some_and(|s| {
                let name = s.ident.to_string();
                matches!(name.as_str(), "convert" | "one" | "zero" | "from_f64" | "from_f32" | "pi" | "e")
            })) =>
        {
            Ty::Scalar
        }
        Expr::MethodCall(m)
            if m.method == "unwrap" && matches!(guess_ty(&m.receiver), Ty::Scalar) =>
        {
            Ty::Scalar
        }
        Expr::MethodCall(m) => match m.method.to_string().as_str() {
            "norm" | "norm_squared" | "sum" | "trace" | "determinant" | "dot" | "mean" | "max"
            | "min" | "amax" | "amin" | "product" | "variance" | "exp" | "ln" | "sqrt" | "powi"
            | "powf" => Ty::Scalar,
            _ => Ty::Unknown,
        },
        _ => Ty::Unknown,
    }
}

/// The entries of a vector constructor: `VectorN::new(..)`, `DVector::from_vec(vec![..])`,
/// `DVector::from_column_slice(&[..])`.
fn vector_parts(owner: &str, method: &str, c: &syn::ExprCall) -> Option<Vec<Expr>> {
    let fixed = owner
        .strip_prefix("Vector")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| (1..=6).contains(n));
    if let (Some(n), "new") = (fixed, method) {
        return (c.args.len() == n).then(|| c.args.iter().cloned().collect());
    }
    if owner != "DVector" || c.args.len() != 1 {
        return None;
    }
    let list = |tokens: TokenStream| -> Option<Vec<Expr>> {
        let parser = syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated;
        syn::parse::Parser::parse2(parser, tokens)
            .ok()
            .map(|p| p.into_iter().collect())
    };
    match (method, strip(&c.args[0])) {
        ("from_vec", Expr::Macro(m)) if m.mac.path.is_ident("vec") => list(m.mac.tokens.clone()),
        ("from_column_slice" | "from_row_slice", Expr::Array(a)) => {
            Some(a.elems.iter().cloned().collect())
        }
        _ => None,
    }
}
