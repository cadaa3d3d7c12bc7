//! Expressions: operators, literals, paths, blocks, indexing and casts, each read into nodes of
//! the graph, or copied through as a constant where no variable reaches it (closures and
//! iterators are in `closures.rs`, branches in `branches.rs`).

use quote::quote;
use syn::spanned::Spanned;
use syn::{BinOp, Expr, Lit, UnOp};

use super::{describe_dim, int_literal, strip, text_of, Lowerer};
use crate::ir::{Func, Graph, Index, NodeId, Op, MAX_POWER};
use crate::shape::{Dim, Shape, Ty};

/// How deeply nested an expression matgrad reads (sub-expressions within sub-expressions).
pub(super) const MAX_DEPTH: usize = 200;

impl Lowerer<'_> {
    pub(super) fn expr(&mut self, e: &Expr) -> Option<NodeId> {
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
                    if self.waiting.contains(&id.to_string()) {
                        return None;
                    }
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
            Expr::If(i) if self.branch_is_active(e) => self.branch(i, e),
            Expr::Match(m) if self.branch_is_active(e) => self.match_value(m, e),
            Expr::If(_) | Expr::Match(_) => self.fallback(e, "a branch", ""),
            Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_) => {
                self.fallback(e, "a loop", "write the computation as matrix operations (a sum over rows is a product with a vector of ones)")
            }
            Expr::Macro(m) => {
                let name = m.mac.path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
                self.fallback(e, &format!("the macro call `{name}!`"), "matgrad cannot see inside macros")
            }
            Expr::Assign(_) => self.fallback(e, "an assignment", "mutation is not supported on a path from a variable; bind a new name with `let`"),
            Expr::Closure(_) => self.fallback(e, "a closure here", "closures are supported as the argument of `.map(..)` and `.zip_map(..)`, and of the `.map(..)` of an iterator that is summed"),
            Expr::Try(_) => self.fallback(e, "the `?` operator", "unwrap or expect the value instead"),
            Expr::Tuple(_) => self.fallback(e, "a tuple", "the value must be one scalar, vector or matrix"),
            Expr::Field(f) => {
                let member = &f.member;
                self.fallback(e, &format!("the field `.{}`", quote!(#member)), "matgrad reads operators and the methods it lists, not the fields of what another operation returns (decompositions other than `lu` and `cholesky` are not differentiated)")
            }
            _ => self.fallback(e, "this expression", ""),
        }
    }

    /// k a (kᵀ a if `transposed`) for a constant k of unknown kind: its rows are a's for a
    /// scalar and k's for a matrix, a dimension that generated code asks k for
    /// (`Rows::rows_times`, `rows_tr_times`).
    fn kind_product(
        &mut self,
        k: NodeId,
        a: NodeId,
        s: Shape,
        transposed: bool,
        span: proc_macro2::Span,
    ) -> Option<NodeId> {
        let method = if transposed {
            quote!(rows_tr_times)
        } else {
            quote!(rows_times)
        };
        let rows = self.kind_rows(k, s.rows, method)?;
        let ty = Ty::Matrix(Shape::new(rows, s.cols));
        let n = self.g.kind_product(k, a, transposed, ty);
        self.g.set_span(n, span);
        Some(n)
    }

    /// The rows of k a (or kᵀ a) where a has `rows` rows: a dimension of its own, computed at
    /// run time by the `Rows` method named `method`.
    fn kind_rows(&mut self, k: NodeId, rows: Dim, method: proc_macro2::TokenStream) -> Option<Dim> {
        let n = self.dim_code(rows)?;
        let alias = self.g.leaf_alias(k);
        let v = self
            .g
            .dims
            .fresh("the rows of a product by a constant of unknown kind".to_string());
        self.g.dims.add_source(
            v,
            crate::shape::DimSource::Expr(quote!(::matgrad::__private::Rows::#method(#alias, #n))),
        );
        Some(Dim::Dyn(v))
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
        if matches!(op, BinOp::Mul(_)) {
            // A constant of unknown kind (a field, `self.k`): times a scalar it is a scalar;
            // times a matrix, rustc picks scaling or matrix product (`Op::KindProduct`).
            let (tl, tr) = (self.ty(l), self.ty(r));
            match (tl, tr) {
                (Ty::Unknown, Ty::Scalar) => self.settle(l, Ty::Scalar),
                (Ty::Scalar, Ty::Unknown) => self.settle(r, Ty::Scalar),
                (Ty::Unknown, Ty::Matrix(s)) if self.g.op(l).is_leaf() => {
                    return self.kind_product(l, r, s, false, op.span());
                }
                (Ty::Matrix(s), Ty::Unknown) if self.g.op(r).is_leaf() => {
                    // a k = (kᵀ aᵀ)ᵀ, for either kind of k
                    let span = op.span();
                    let at = self.mk(Op::Transpose, vec![l], Ty::Matrix(s.transposed()), span);
                    let p = self.kind_product(r, at, s.transposed(), true, span)?;
                    let ps = self.g.shape(p)?;
                    return Some(self.mk(
                        Op::Transpose,
                        vec![p],
                        Ty::Matrix(ps.transposed()),
                        span,
                    ));
                }
                _ => {}
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
        let (le, re) = (&*b.left, &*b.right);
        // Inside a closure over entries, two matrices combine entrywise where both are entries
        // (or values of entries); two whole matrices captured by the closure combine as
        // matrices; an entry with a whole matrix is each entry with every entry of the matrix,
        // which matgrad does not read.
        let mut ew = self.elementwise.is_some();
        if ew && tl.is_matrix() && tr.is_matrix() {
            let entries = [le, re].map(|side| self.mentioned_entry(side));
            let whole_side = if entries[0].is_none() { le } else { re };
            match entries {
                [Some(_), Some(_)] => {}
                [None, None] => ew = false,
                [Some((entry, _)), None] | [None, Some((entry, _))] => {
                    let t = text_of(whole_side);
                    self.cx.error_spanned_by(
                        whole_side,
                        format!("inside this closure `{t}` is a whole matrix, not an entry: matgrad reads the closure as operations on whole matrices, and cannot combine it with the entry `{entry}`; reduce it to a scalar first (`{t}.sum()`, `{t}.norm()`, ..), or combine the matrices before the closure"),
                    );
                    return None;
                }
            }
        }
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

    pub(super) fn index_part(&mut self, e: &Expr) -> Option<Index> {
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
        // An entry, or an entrywise value, cast to the scalar type inside a closure: itself,
        // where its matrix has that scalar type; others are converted before the closure.
        if self.elementwise.is_some() && self.ty(inner).is_matrix() {
            if to_scalar && self.of_the_scalar_type(inner) {
                return Some(inner);
            }
            let (t, target) = (text_of(&c.expr), text_of(&c.ty));
            let matrix = match self.g.op(inner) {
                Op::Param(i) => self.g.params[*i].clone(),
                _ => "x".to_string(),
            };
            self.cx.error_spanned_by(
                whole,
                format!("matgrad cannot read the cast of `{t}` inside a closure over entries, whose matrices may hold another type: convert the matrix before the closure (`let c = {matrix}.map(|v| v as {target});`) and use its entries"),
            );
            return None;
        }
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

impl Lowerer<'_> {
    /// Whether a matrix of the graph holds the function's scalar type: a parameter declared
    /// so, or a value matgrad computed (from such matrices); not a constant, whose type
    /// matgrad may not know.
    fn of_the_scalar_type(&self, n: NodeId) -> bool {
        match self.g.op(n) {
            Op::Param(i) => self.f.params[*i]
                .info
                .scalar
                .as_ref()
                .is_some_and(|t| text_of(t) == text_of(&self.f.scalar)),
            op => !op.is_leaf(),
        }
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
