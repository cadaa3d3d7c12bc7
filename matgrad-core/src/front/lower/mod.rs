//! Lowering: the function body, read into the expression graph.
//!
//! Sub-expressions on a path from a variable to the result must use operations matgrad has a
//! rule for; each other use is an error spanned on the user's tokens. Sub-expressions that do
//! not depend on a variable are constants: where they use anything else, they are copied
//! through as written (`Op::Opaque`), and constant `let`s are emitted as the user wrote them
//! (`Op::Local`), so the generated code computes them exactly as the original function does.

mod branches;
mod closures;
mod expr;
mod factorisations;
mod loops;
mod methods;
mod nodes;
mod reductions;

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use syn::visit::Visit;
use syn::{BinOp, Block, Expr, Ident, Lit, Pat, UnOp};

use super::types::{classify, Axis, TypeKind};
use super::Function;
use crate::ctxt::Ctxt;
use crate::ir::{Graph, Leaf, NodeId, Op};
use crate::shape::{Dim, DimSource, Shape, Ty};

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
    /// Whether the `let` binds a reference (its type is written `&T`), which the alias takes
    /// as it is.
    pub by_ref: bool,
}

const CONSTANTS_NOTE: &str = "parts of the body that do not depend on a variable may use anything";

#[derive(Clone, Copy)]
struct Bound {
    node: NodeId,
    /// A closure's argument: an entry of a matrix, bound to the whole matrix, which generated
    /// code does not have under this name.
    entry: bool,
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
    /// Calls on the active path of functions matgrad has not read: `#[differentiable]` helpers
    /// to ask for (or, if they are not helpers, the compiler's error at the call).
    missing: Vec<syn::Path>,
    /// Names bound to the value of such a call: their uses wait for the helper too, silently.
    waiting: Vec<String>,
    /// For each loop body being read, innermost last: its carried values' names and leaves.
    carried: Vec<Vec<(String, NodeId)>>,
    /// The `break`s and `continue`s of the loop body being read, after an update.
    exits: Vec<loops::Exit>,
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
/// Calls of functions on the active path that may be helpers are added to `missing`.
pub fn lower(f: &Function, cx: &mut Ctxt, missing: &mut Vec<syn::Path>) -> Option<Body> {
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
        missing: Vec::new(),
        waiting: Vec::new(),
        carried: Vec::new(),
        exits: Vec::new(),
    };
    let param_nodes = lw.bind_params();
    let output = lw.block_value(f.inlined.as_ref().unwrap_or(&f.item.block));
    missing.append(&mut lw.missing);
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

/// The names the tokens mention, and those they mention only to ask their size (`Mentions`).
fn mentioned_names(tokens: &impl ToTokens) -> (Vec<String>, Vec<String>) {
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
    (names, sizes)
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
    crate::text::source_text(&t.to_token_stream())
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
        self.waiting.retain(|w| *w != name);
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name, Bound { node, entry: false });
        }
    }

    /// Bind a closure's argument, an entry, to the node of the whole matrix.
    fn bind_entry(&mut self, name: String, node: NodeId) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name, Bound { node, entry: true });
        }
    }

    /// The first entry of a closure (its argument) these tokens name, if they name one: code
    /// that uses it cannot be copied into generated code, which has whole matrices only.
    /// Returns the entry's name and the name of its matrix (where it is a parameter's).
    fn mentioned_entry(&self, tokens: &impl ToTokens) -> Option<(String, String)> {
        self.mentioned_entry_except(tokens, &[])
    }

    /// [`Self::mentioned_entry`], but for the names in `except` (which the tokens bind anew).
    fn mentioned_entry_except(
        &self,
        tokens: &impl ToTokens,
        except: &[String],
    ) -> Option<(String, String)> {
        if !self.scopes.iter().any(|s| s.values().any(|b| b.entry)) {
            return None;
        }
        let (names, sizes) = mentioned_names(tokens);
        let (name, bound) = names
            .into_iter()
            .chain(sizes)
            .filter(|n| !except.contains(n))
            .find_map(|n| self.lookup(&n).filter(|b| b.entry).map(|b| (n, b)))?;
        let matrix = match self.g.op(bound.node) {
            Op::Param(i) => self.g.params[*i].clone(),
            _ => "x".to_string(),
        };
        Some((name, matrix))
    }

    /// Whether copying these tokens into generated code would copy a dependence on a variable,
    /// or a name that generated code does not have (a `let` matgrad computes itself).
    fn mentions_active(&self, tokens: &impl ToTokens) -> bool {
        let (names, sizes) = mentioned_names(tokens);
        // A value a loop carries is held by generated code under a name of its own.
        let active = |n: &String| {
            self.lookup(n).is_some_and(|b| {
                self.g.is_active(b.node)
                    || matches!(self.g.op(b.node), Op::Carry { .. } | Op::LoopOut { .. })
            })
        };
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

    /// A constant expression copied through as written, whose value is a matrix of shape `s`
    /// (a constant `y.map(|v| 1.0 - v)` has the shape of `y`): its fixed sizes are `s`'s, and
    /// its others are read from the value at run time and equal to `s`'s.
    fn opaque_shaped(&mut self, e: &Expr, s: Shape) -> NodeId {
        let n = self.opaque(e, Ty::Unknown);
        if self.ty(n) != Ty::Unknown {
            return n;
        }
        let alias = self.g.leaf_alias(n);
        let axis = |d: Dim| match d {
            Dim::Fixed(k) => Axis::Fixed(k),
            Dim::Dyn(_) => Axis::Dyn,
        };
        let fresh = self.fresh_shape(&text_of(e), axis(s.rows), axis(s.cols), &alias);
        let _ = self.g.dims.unify(fresh.rows, s.rows);
        let _ = self.g.dims.unify(fresh.cols, s.cols);
        self.g.set_leaf_ty(n, Ty::Matrix(fresh));
        n
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
        // Inside a closure, a `let` of an entry is entrywise: generated code has no such name.
        let entry_init = init.is_some_and(|i| self.mentioned_entry(&i.expr).is_some());
        if let (Some(ident), Some(init), true) = (ident, init, active_init || entry_init) {
            if init.diverge.is_some() {
                self.cx.error_spanned_by(
                    local,
                    "`let .. else` is not supported on a path from a variable",
                );
                return;
            }
            let asked = self.missing.len();
            let Some(node) = self.expr(&init.expr) else {
                if self.missing.len() > asked {
                    // The value of a helper not read yet: uses of the name wait for it.
                    self.waiting.push(ident.to_string());
                    return;
                }
                // Keep the name bound so later uses do not report a second, spurious error.
                self.shadow_with_constant(ident.clone());
                return;
            };
            if entry_init && !self.g.is_active(node) {
                self.bind_entry(ident.to_string(), node);
                return;
            }
            if self.g.is_active(node) {
                if self.elementwise.is_some() {
                    self.bind_entry(ident.to_string(), node);
                } else {
                    self.bind(ident.to_string(), node);
                }
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
        if active_init
            || entry_init
            || (ident.is_none() && init.is_some_and(|i| self.mentions_active(&i.expr)))
        {
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
                    by_ref: false,
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
            by_ref: false,
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
            scope: self.g.current_scope,
        });
        if let Some(last) = self.stmts.last_mut() {
            last.alias = Some((alias.clone(), ident.clone()));
            // `let b: &DVector<f64> = ..` is a reference already: its alias is the name itself.
            last.by_ref = matches!(annotated, Some(syn::Type::Reference(_)));
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
        // Statements are emitted as written, where a closure's entries do not exist.
        if !matches!(stmt, syn::Stmt::Local(_) | syn::Stmt::Item(_)) {
            if let Some((entry, _)) = self.mentioned_entry(stmt) {
                self.cx.error_spanned_by(
                    stmt,
                    format!("matgrad reads a closure over entries as operations on whole matrices: its statements other than `let` cannot use the entry `{entry}`"),
                );
                return;
            }
        }
        match stmt {
            syn::Stmt::Item(_) => self.stmts.push(Stmt {
                tokens: stmt.to_token_stream(),
                alias: None,
                optional: None,
                by_ref: false,
            }),
            syn::Stmt::Expr(e, _) => {
                if self.assignment(e) {
                    return;
                }
                if let Expr::ForLoop(fl) = e {
                    if self.is_graph_loop(fl) {
                        return self.for_loop(fl);
                    }
                }
                if let Some(exit) = loops::exits(stmt) {
                    if self.loop_exit(stmt, exit) {
                        return;
                    }
                }
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
                        Expr::While(_) | Expr::Loop(_) => "matgrad differentiates `for` loops over a range, whose number of iterations is known when the loop starts: write `for k in 0..max_iterations { .. }` (with `if k_done { break; }` for a condition on constants)",
                        Expr::If(_) | Expr::Match(_) => "matgrad reads a branch on a path from a variable as a value, not as a statement that assigns in its arms: write `let s = if c { a } else { b };`",
                        _ => "matgrad cannot differentiate through a statement that uses a variable: statements other than `let` may only use constants",
                    };
                    self.cx.error_spanned_by(e, msg);
                    return;
                }
                self.stmts.push(Stmt {
                    tokens: stmt.to_token_stream(),
                    alias: None,
                    optional: None,
                    by_ref: false,
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
                    by_ref: false,
                });
            }
            syn::Stmt::Local(l) => self.local(l),
        }
    }
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
        Expr::Assign(_) => Some("assigning into an entry or a field is not supported on a path from a variable: build the value with matrix operations (a new name with `let`, or `name = ..` for the whole value)"),
        Expr::Binary(b)
            if matches!(b.op, BinOp::AddAssign(_) | BinOp::SubAssign(_) | BinOp::MulAssign(_) | BinOp::DivAssign(_)) =>
        {
            Some("updating an entry or a field in place is not supported on a path from a variable: update the whole value (`y += ..` of a `let mut y`), or build it with matrix operations")
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
        Expr::MethodCall(m) if crate::ir::vocabulary::returns_scalar(&m.method.to_string()) => {
            Ty::Scalar
        }
        _ => Ty::Unknown,
    }
}
