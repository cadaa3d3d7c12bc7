//! Closures and iterators: the closures of `map` and `zip_map`, read with their arguments bound
//! to whole matrices in elementwise mode, function paths (`f64::tanh`), and iterators over a
//! matrix's entries (`iter()`, `zip`, `map`) up to their sum.

use std::collections::HashMap;

use syn::spanned::Spanned;
use syn::{Expr, Pat};

use super::expr::MAX_DEPTH;
use super::{collect_pat_idents, strip, text_of, Lowerer, CONSTANTS_NOTE};
use crate::ir::vocabulary;
use crate::ir::{Func, Graph, NodeId, Op};
use crate::shape::{Dim, Shape, Ty};
use crate::simplify::representative;

/// What an iterator over a matrix's entries yields, read up to its sum: the entries of one
/// matrix (with its text, for messages), or the pairs of `zip`.
#[derive(Clone)]
enum Items {
    One(NodeId, String),
    Pair(Box<Items>, Box<Items>),
}

impl Items {
    /// The first matrix iterated over, which gives the shape of them all.
    fn first(&self) -> (NodeId, String) {
        match self {
            Items::One(n, t) => (*n, t.clone()),
            Items::Pair(a, _) => a.first(),
        }
    }

    fn text(&self) -> String {
        match self {
            Items::One(_, t) => t.clone(),
            Items::Pair(a, b) => format!("({}, {})", a.text(), b.text()),
        }
    }
}

/// Whether `e` is an iterator over a matrix's entries: `x.iter()` or `x.into_iter()`, and any
/// chain of methods on it (those matgrad does not read are errors, where a variable reaches).
pub(super) fn is_iterator(e: &Expr) -> bool {
    let mut e = strip(e);
    while let Expr::MethodCall(m) = e {
        if m.args.is_empty() && matches!(m.method.to_string().as_str(), "iter" | "into_iter") {
            return true;
        }
        e = strip(&m.receiver);
    }
    false
}

impl Lowerer<'_> {
    /// `x.map(|v| ..)`: the closure's body, read with `v` bound to the whole matrix in
    /// elementwise mode; `x.map(f64::tanh)` is `x.map(|v| v.tanh())`.
    pub(super) fn map(&mut self, recv: NodeId, closure: &Expr, whole: &Expr) -> Option<NodeId> {
        let shape = self.g.shape(recv)?;
        if let Some(func) = self.function_path(closure) {
            let ty = self.ty(recv);
            return Some(self.mk(Op::Elem(func), vec![recv], ty, closure.span()));
        }
        let Expr::Closure(c) = strip(closure) else {
            if !self.mentions_active(whole) {
                return Some(self.opaque(whole, Ty::Unknown));
            }
            self.cx.error_spanned_by(
                closure,
                format!(
                    "matgrad cannot differentiate `map` with the function `{}`: write it as a closure with its body inline, `.map(|v| ..)`; the functions matgrad reads by their path are its scalar functions, as in `.map(f64::tanh)` ({})",
                    text_of(closure),
                    vocabulary::scalar_functions_text()
                ),
            );
            return None;
        };
        if c.inputs.len() != 1 {
            self.cx.error_spanned_by(
                &c.inputs,
                "the closure of `map` takes one argument, the entry",
            );
            return None;
        }
        let item = Items::One(recv, text_of(whole));
        self.closure_value(c, vec![(&c.inputs[0], item)], shape, "map")
    }

    /// `a.zip_map(&b, |u, v| ..)`: the closure's body, read with `u` bound to `a` and `v` to
    /// `b`, both whole, in elementwise mode.
    pub(super) fn zip_map(
        &mut self,
        recv: NodeId,
        m: &syn::ExprMethodCall,
        whole: &Expr,
    ) -> Option<NodeId> {
        let (arg, closure) = (&m.args[0], &m.args[1]);
        let b = self.matrix_arg(arg, "zip_map")?;
        let (sa, sb) = (self.g.shape(recv)?, self.g.shape(b)?);
        let (ta, tb) = (self.shape_text(sa), self.shape_text(sb));
        let (la, lb) = (text_of(&m.receiver), text_of(arg));
        let msg = |_: &Graph| {
            format!("`zip_map` combines `{la}` ({ta}) and `{lb}` ({tb}) entry by entry, but their shapes differ")
        };
        let ok = self.unify(sa.rows, sb.rows, &m.method, msg)
            && self.unify(sa.cols, sb.cols, &m.method, msg);
        if !ok {
            return None;
        }
        let shape = representative(sa, sb);
        let Expr::Closure(c) = strip(closure) else {
            return self.fallback(
                whole,
                "`zip_map` with a function that is not a closure",
                "write the function as a closure, `.zip_map(&b, |u, v| ..)`",
            );
        };
        if c.inputs.len() != 2 {
            self.cx.error_spanned_by(
                &c.inputs,
                format!(
                    "the closure of `zip_map` takes two arguments, an entry of `{la}` and the entry of `{lb}` at the same place: `|u, v| ..`"
                ),
            );
            return None;
        }
        let (u, v) = (Items::One(recv, la.clone()), Items::One(b, lb.clone()));
        self.closure_value(
            c,
            vec![(&c.inputs[0], u), (&c.inputs[1], v)],
            shape,
            "zip_map",
        )
    }

    /// A closure's value, its arguments bound to whole matrices of shape `shape` (or pairs of
    /// them, from `zip`), its body read in elementwise mode: a matrix of that shape.
    fn closure_value(
        &mut self,
        c: &syn::ExprClosure,
        args: Vec<(&Pat, Items)>,
        shape: Shape,
        what: &str,
    ) -> Option<NodeId> {
        // An entry of an enclosing closure is one scalar per entry of *its* matrix, while this
        // closure is read over the entries of its own: matgrad would pair them entry by entry.
        let mut own = Vec::new();
        for p in &c.inputs {
            collect_pat_idents(p, &mut own);
        }
        let own: Vec<String> = own.iter().map(|i| i.to_string()).collect();
        if let Some((entry, _)) = self.mentioned_entry_except(&c.body, &own) {
            self.cx.error_spanned_by(
                &c.body,
                format!("matgrad cannot read a closure that uses `{entry}`, the entry of the closure around it: it reads each closure as operations on whole matrices, which would pair the entries of both matrices one to one instead of each with each; write this with matrix operations (an outer product, or a sum computed before the closure)"),
            );
            return None;
        }
        self.scopes.push(HashMap::new());
        let mut bound = true;
        for (pat, items) in args {
            bound = bound && self.bind_items(pat, items, what);
        }
        let body = if bound {
            let saved = self.elementwise.replace(shape);
            let body = self.expr(&c.body);
            self.elementwise = saved;
            body
        } else {
            None
        };
        self.scopes.pop();
        let body = body?;
        match self.ty(body) {
            Ty::Matrix(_) => Some(body),
            Ty::Scalar => {
                // Every entry maps to the same value: a constant matrix, s J.
                let span = c.body.span();
                let ones = self.mk(Op::Ones, vec![], Ty::Matrix(shape), span);
                Some(self.mk(Op::Scale, vec![body, ones], Ty::Matrix(shape), span))
            }
            Ty::Unknown => {
                self.cx.error_spanned_by(&c.body, format!("matgrad cannot tell the type of this closure's value: the closure of `{what}` must return a scalar"));
                None
            }
        }
    }

    /// Bind a closure's pattern to what it takes: an entry by a name (`v`, `&v`, `v: f64`),
    /// a pair from `zip` by a pair of patterns (`(u, v)`, `(&u, &v)`).
    fn bind_items(&mut self, pat: &Pat, items: Items, what: &str) -> bool {
        match (pat, items) {
            (Pat::Ident(pi), Items::One(n, _)) if pi.subpat.is_none() => {
                self.bind_entry(pi.ident.to_string(), n);
                true
            }
            (Pat::Type(pt), items) => self.bind_items(&pt.pat, items, what),
            (Pat::Reference(r), items) => self.bind_items(&r.pat, items, what),
            (Pat::Paren(p), items) => self.bind_items(&p.pat, items, what),
            (Pat::Wild(_), _) => true,
            (Pat::Tuple(t), Items::Pair(a, b)) if t.elems.len() == 2 => {
                self.bind_items(&t.elems[0], *a, what) && self.bind_items(&t.elems[1], *b, what)
            }
            (Pat::Ident(_), Items::Pair(a, b)) => {
                let (a, b) = (a.text(), b.text());
                self.cx.error_spanned_by(
                    pat,
                    format!("the items are pairs, an entry of `{a}` and one of `{b}`: take each pair apart in the closure's pattern, `|(u, v)| ..`, for matgrad to read the closure entry by entry"),
                );
                false
            }
            (Pat::Tuple(_), Items::One(_, t)) => {
                self.cx.error_spanned_by(
                    pat,
                    format!(
                        "this pattern takes apart a pair, but the items are the entries of `{t}`"
                    ),
                );
                false
            }
            (other, _) => {
                self.cx.error_spanned_by(
                    other,
                    format!("the closure of `{what}` must take each entry by a plain name, `|v| ..` (and the pairs of `zip` by two, `|(u, v)| ..`)"),
                );
                false
            }
        }
    }

    /// The scalar function a path names where a function is expected (`.map(f64::tanh)`):
    /// `f64::`, `f32::` or the function's generic scalar type (`T::ln`, `<T as
    /// ComplexField>::ln`), or the traits `ComplexField::` and `Float::`.
    pub(super) fn function_path(&self, e: &Expr) -> Option<Func> {
        let Expr::Path(p) = strip(e) else {
            return None;
        };
        let segs = &p.path.segments;
        let last = segs.last()?;
        if !last.arguments.is_empty() {
            return None;
        }
        let is_scalar = |ident: &syn::Ident| {
            let ty = syn::Type::Path(syn::TypePath {
                qself: None,
                path: syn::Path::from(ident.clone()),
            });
            self.f.scalars.is_scalar(&ty)
        };
        let owner_is_scalar = match &p.qself {
            Some(q) => self.f.scalars.is_scalar(&q.ty),
            None if segs.len() == 2 => {
                is_scalar(&segs[0].ident)
                    || matches!(segs[0].ident.to_string().as_str(), "ComplexField" | "Float")
            }
            None => false,
        };
        owner_is_scalar
            .then(|| vocabulary::function_named(&last.ident.to_string()))
            .flatten()
    }

    // ---- iterators over a matrix's entries ---------------------------------------------------

    /// `x.iter().map(|v| ..).sum::<f64>()`, `a.iter().zip(b.iter()).map(|(u, v)| ..).sum()`:
    /// the sum of the entrywise map, read as `x.map(|v| ..).sum()`.
    pub(super) fn iterator_sum(&mut self, m: &syn::ExprMethodCall, whole: &Expr) -> Option<NodeId> {
        if !self.mentions_active(whole) {
            return Some(self.opaque(whole, Ty::Scalar));
        }
        if m.method != "sum" {
            let name = m.method.to_string();
            self.cx.error_spanned_by(
                &m.method,
                format!("matgrad cannot differentiate the `.{name}()` of an iterator: it reads an iterator over a matrix's entries up to its `.sum()` (a product of positive entries is `x.map(|v| v.ln()).sum().exp()`)"),
            );
            return None;
        }
        // The matrices iterated over are read as matrices, even inside a `map` closure, where
        // they cannot use its entry (they would pair it with each of their own).
        if let Some(entry) = self.entry_outside_closures(&m.receiver) {
            self.cx.error_spanned_by(
                &m.receiver,
                format!("matgrad cannot read an iterator that uses `{entry}`, the entry of the closure around it: it reads each closure as operations on whole matrices, which would pair the entries of both matrices one to one instead of each with each; write this with matrix operations (an outer product, or a sum computed before the closure)"),
            );
            return None;
        }
        let saved = self.elementwise.take();
        let items = self.items(&m.receiver);
        self.elementwise = saved;
        match items? {
            Items::One(n, _) => Some(self.mk(Op::Sum, vec![n], Ty::Scalar, m.method.span())),
            Items::Pair(..) => {
                self.cx.error_spanned_by(
                    &m.method,
                    "the items summed are the pairs of `zip`: map each pair to a scalar before the sum, `.map(|(u, v)| ..)`",
                );
                None
            }
        }
    }

    /// The first entry of an enclosing closure that `e` names outside the closures within it
    /// (which bind names of their own, and are checked as they are read).
    fn entry_outside_closures(&self, e: &Expr) -> Option<String> {
        struct Names(Vec<String>);
        impl<'ast> syn::visit::Visit<'ast> for Names {
            fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
                if let Some(id) = p.path.get_ident() {
                    self.0.push(id.to_string());
                }
            }
            fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
            fn visit_macro(&mut self, m: &'ast syn::Macro) {
                super::collect_idents(m.tokens.clone(), &mut self.0);
            }
        }
        let mut names = Names(Vec::new());
        syn::visit::Visit::visit_expr(&mut names, e);
        names
            .0
            .into_iter()
            .find(|n| self.lookup(n).is_some_and(|b| b.entry))
    }

    /// The items of an iterator over a matrix's entries: `x.iter()`, `x.into_iter()`, and the
    /// adapters `copied`, `cloned`, `zip` and `map` on it.
    fn items(&mut self, e: &Expr) -> Option<Items> {
        if self.depth >= MAX_DEPTH {
            self.cx.error_spanned_by(
                e,
                format!("this expression is nested more than {MAX_DEPTH} levels deep, more than matgrad reads: split it into `let` bindings"),
            );
            return None;
        }
        self.depth += 1;
        let out = self.items_inner(e);
        self.depth -= 1;
        out
    }

    fn items_inner(&mut self, e: &Expr) -> Option<Items> {
        let Expr::MethodCall(m) = strip(e) else {
            self.cx.error_spanned_by(
                e,
                "matgrad reads iterators over the entries of a matrix or vector, `x.iter()`",
            );
            return None;
        };
        let name = m.method.to_string();
        let args: Vec<&Expr> = m.args.iter().collect();
        match (name.as_str(), args.len()) {
            ("iter" | "into_iter", 0) => {
                let n = self.expr(&m.receiver)?;
                let t = text_of(&m.receiver);
                if !self.ty(n).is_matrix() {
                    self.cx.error_spanned_by(
                        &m.receiver,
                        format!("matgrad reads iterators over the entries of a matrix or vector, and cannot tell that `{t}` is one: bind it first with a type, e.g. `let c: DVector<f64> = ..;`"),
                    );
                    return None;
                }
                Some(Items::One(n, t))
            }
            ("copied" | "cloned", 0) => self.items(&m.receiver),
            ("zip", 1) => {
                let a = self.items(&m.receiver)?;
                let b = if is_iterator(args[0]) {
                    self.items(args[0])?
                } else {
                    let n = self.matrix_arg(args[0], "zip")?;
                    Items::One(n, text_of(args[0]))
                };
                let b = self.zip_conform(&a, b, &m.method)?;
                Some(Items::Pair(Box::new(a), Box::new(b)))
            }
            ("map", 1) => {
                let items = self.items(&m.receiver)?;
                let n = self.map_items(items, args[0])?;
                Some(Items::One(n, text_of(e)))
            }
            _ => {
                let call = if args.is_empty() {
                    format!(".{name}()")
                } else {
                    format!(".{name}(..)")
                };
                self.cx.error_spanned_by(
                    &m.method,
                    format!("matgrad cannot differentiate `{call}` on an iterator over a matrix's entries; it reads {}, as in `x.iter().map(|v| ..).sum::<f64>()` ({CONSTANTS_NOTE})", vocabulary::iterator_methods_text()),
                );
                None
            }
        }
    }

    /// `zip` pairs entries in their order, column by column: the items zipped must have the
    /// shape of those they are zipped with (a row vector is read as the column it pairs with).
    fn zip_conform(&mut self, a: &Items, b: Items, at: &syn::Ident) -> Option<Items> {
        match b {
            Items::Pair(x, y) => {
                let x = self.zip_conform(a, *x, at)?;
                let y = self.zip_conform(a, *y, at)?;
                Some(Items::Pair(Box::new(x), Box::new(y)))
            }
            Items::One(nb, tb) => {
                let (na, ta) = a.first();
                let (sa, sb) = (self.g.shape(na)?, self.g.shape(nb)?);
                let one = Dim::Fixed(1);
                let (col, row) = (|s: Shape| s.cols == one, |s: Shape| s.rows == one);
                let crossed = (col(sa) && !row(sa) && row(sb) && !col(sb))
                    || (row(sa) && !col(sa) && col(sb) && !row(sb));
                let nb = if crossed {
                    self.mk(
                        Op::Transpose,
                        vec![nb],
                        Ty::Matrix(sb.transposed()),
                        at.span(),
                    )
                } else {
                    nb
                };
                let sc = self.g.shape(nb)?;
                let (tsa, tsb) = (self.shape_text(sa), self.shape_text(sb));
                let msg = |_: &Graph| {
                    format!("`zip` pairs the entries of `{ta}` ({tsa}) with those of `{tb}` ({tsb}), whose shapes differ: `zip` stops at the shorter, and matgrad differentiates only zips of matrices of the same shape")
                };
                let ok =
                    self.unify(sa.rows, sc.rows, at, msg) && self.unify(sa.cols, sc.cols, at, msg);
                ok.then_some(Items::One(nb, tb))
            }
        }
    }

    /// An iterator's `map`: `.map(|v| ..)`, `.map(|(u, v)| ..)` after `zip`, `.map(f64::exp)`.
    fn map_items(&mut self, items: Items, f: &Expr) -> Option<NodeId> {
        let (first, _) = items.first();
        let shape = self.g.shape(first)?;
        if let (Some(func), Items::One(n, _)) = (self.function_path(f), &items) {
            let n = *n;
            return Some(self.mk(Op::Elem(func), vec![n], Ty::Matrix(shape), f.span()));
        }
        let Expr::Closure(c) = strip(f) else {
            self.cx.error_spanned_by(
                f,
                format!("matgrad reads the `map` of an iterator over a matrix's entries with a closure, `.map(|v| ..)`, or a scalar function by its path, `.map(f64::tanh)` ({})", vocabulary::scalar_functions_text()),
            );
            return None;
        };
        if c.inputs.len() != 1 {
            self.cx.error_spanned_by(
                &c.inputs,
                "the closure of an iterator's `map` takes one argument, the item: `|v| ..`, or `|(u, v)| ..` for the pairs of `zip`",
            );
            return None;
        }
        self.closure_value(c, vec![(&c.inputs[0], items)], shape, "map")
    }
}
