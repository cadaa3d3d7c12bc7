//! Branches: `if`/`else` and `match` on the active path, read as a choice between the values
//! of the branches (`Op::Select`) under a condition (`Op::Compare`, or a constant condition
//! copied through as 1 or 0). Both branches are derived, and the one taken is chosen at run
//! time: the derivative of a branch is the derivative of the branch taken, on a boundary too,
//! as every AD system defines it. Inside a `map` closure the condition is entrywise, so each
//! entry takes its own branch (Huber, clipping, leaky ReLU, a guarded log).

use quote::quote;
use syn::spanned::Spanned;
use syn::{BinOp, Expr, Pat, UnOp};

use super::{strip, text_of, Lowerer};
use crate::ir::{Cmp, NodeId};
use crate::shape::Ty;

const CONDITIONS: &str = "compare values (`<`, `<=`, `>`, `>=`, `==`, `!=`) and combine comparisons with `&&`, `||` and `!`";

impl Lowerer<'_> {
    /// Whether a branch must be read here rather than copied through as a constant: it uses a
    /// variable, or (inside a `map` closure) the closure's entry.
    pub(super) fn branch_is_active(&self, e: &Expr) -> bool {
        self.mentions_active(e) || self.mentioned_entry(e).is_some()
    }

    /// `if c { a } else { b }`.
    pub(super) fn branch(&mut self, i: &syn::ExprIf, whole: &Expr) -> Option<NodeId> {
        let Some((_, otherwise)) = &i.else_branch else {
            self.cx.error_spanned_by(
                whole,
                "this `if` has no `else`: on a path from a variable, a branch must give a value in every case; add an `else`",
            );
            return None;
        };
        let cond = self.condition(&i.cond);
        let then = self.block_value(&i.then_branch);
        let other = self.expr(otherwise);
        let (cond, then, other) = (cond?, then?, other?);
        // A block of one expression is quoted as the expression.
        let then_text = match i.then_branch.stmts.as_slice() {
            [syn::Stmt::Expr(e, None)] => text_of(e),
            _ => text_of(&i.then_branch),
        };
        let texts = (then_text, text_of(unblock(otherwise)));
        self.choose(cond, then, other, texts, whole)
    }

    /// `match k { pattern => a, .. }` on a constant `k`: each arm's pattern is a condition
    /// (`matches!(k, pattern)`), evaluated at run time; the last arm is the default.
    pub(super) fn match_value(&mut self, m: &syn::ExprMatch, whole: &Expr) -> Option<NodeId> {
        if self.branch_is_active(&m.expr) {
            self.cx.error_spanned_by(
                &m.expr,
                format!("matgrad reads a `match` on a constant (a configuration, a size); to branch on a value that depends on a variable, use `if` and {CONDITIONS}"),
            );
            return None;
        }
        let mut ok = true;
        for arm in &m.arms {
            if let Some(binding) = binding_in(&arm.pat) {
                self.cx.error_spanned_by(
                    &binding,
                    format!("on a path from a variable, the patterns of a `match` cannot bind names (`{}`): use the value itself in the arm", text_of(&binding)),
                );
                ok = false;
            }
        }
        let Some((last, rest)) = m.arms.split_last() else {
            self.cx
                .error_spanned_by(whole, "a `match` without arms has no value");
            return None;
        };
        if !ok {
            return None;
        }
        let scrutinee = &m.expr;
        let mut value = self.expr(&last.body)?;
        for arm in rest.iter().rev() {
            let pat = &arm.pat;
            let guard = arm.guard.as_ref().map(|(_, g)| quote!(if #g));
            let test: Expr = syn::parse_quote!(::core::matches!(#scrutinee, #pat #guard));
            let cond = self.indicator(&test, format!("{} = {}", text_of(scrutinee), text_of(pat)));
            let arm_value = self.expr(&arm.body)?;
            let texts = (text_of(unblock(&arm.body)), text_of(unblock(&last.body)));
            value = self.choose(cond, arm_value, value, texts, whole)?;
        }
        Some(value)
    }

    /// The condition of a branch, as 1 where it holds and 0 elsewhere (entrywise inside a
    /// `map` closure).
    fn condition(&mut self, e: &Expr) -> Option<NodeId> {
        if !self.branch_is_active(e) {
            return Some(self.indicator(e, text_of(e)));
        }
        let span = e.span();
        match strip(e) {
            Expr::Binary(b) => {
                let cmp = match b.op {
                    BinOp::Lt(_) => Cmp::Lt,
                    BinOp::Le(_) => Cmp::Le,
                    BinOp::Gt(_) => Cmp::Gt,
                    BinOp::Ge(_) => Cmp::Ge,
                    BinOp::Eq(_) => Cmp::Eq,
                    BinOp::Ne(_) => Cmp::Ne,
                    BinOp::And(_) | BinOp::Or(_) => {
                        let x = self.condition(&b.left);
                        let y = self.condition(&b.right);
                        let (x, y) = (self.as_mask(x?), self.as_mask(y?));
                        let both = self.g.times(x, y);
                        if matches!(b.op, BinOp::And(_)) {
                            return Some(both);
                        }
                        // [p ∨ q] = [p] + [q] − [p][q]
                        let sum = self.g.add(x, y);
                        return Some(self.g.sub(sum, both));
                    }
                    _ => return self.bad_condition(e),
                };
                let x = self.expr(&b.left);
                let y = self.expr(&b.right);
                let (x, y) = (x?, y?);
                for n in [x, y] {
                    self.settle(n, Ty::Scalar);
                }
                let entrywise = self.elementwise.is_some();
                for (n, side) in [(x, &b.left), (y, &b.right)] {
                    match self.ty(n) {
                        Ty::Matrix(_) if !entrywise => {
                            self.cx.error_spanned_by(side, format!("a condition compares scalars, but `{}` is a matrix: compare one of its entries, or a norm", text_of(side)));
                            return None;
                        }
                        Ty::Unknown => {
                            self.cx.error_spanned_by(side, format!("matgrad cannot tell the type of `{}` in this condition: bind it first with a type, e.g. `let c: f64 = ..;`", text_of(side)));
                            return None;
                        }
                        _ => {}
                    }
                }
                let c = self.g.compare(cmp, x, y);
                self.g.set_span(c, span);
                Some(c)
            }
            Expr::Unary(u) if matches!(u.op, UnOp::Not(_)) => {
                let x = self.condition(&u.expr)?;
                let x = self.as_mask(x);
                // [¬p] = 1 − [p]
                let one = match self.ty(x) {
                    Ty::Matrix(s) => self.g.ones(s),
                    _ => self.g.lit(1.0),
                };
                Some(self.g.sub(one, x))
            }
            _ => self.bad_condition(e),
        }
    }

    fn bad_condition(&mut self, e: &Expr) -> Option<NodeId> {
        self.cx.error_spanned_by(
            e,
            format!("matgrad cannot read this condition on a variable: conditions {CONDITIONS}"),
        );
        None
    }

    /// A condition that depends on no variable, copied through as 1 or 0 of the scalar type.
    fn indicator(&mut self, e: &Expr, text: String) -> NodeId {
        let s = &self.f.scalar;
        let (one, zero) = match text_of(s).as_str() {
            "f64" => (quote!(1.0f64), quote!(0.0f64)),
            "f32" => (quote!(1.0f32), quote!(0.0f32)),
            _ => (
                quote!(::matgrad::nalgebra::convert::<f64, #s>(1.0)),
                quote!(::matgrad::nalgebra::convert::<f64, #s>(0.0)),
            ),
        };
        let code = quote!((if #e { #one } else { #zero }));
        self.opaque_code(code, text, Ty::Scalar, e.span())
    }

    /// Inside a `map` closure, a scalar condition (a constant one) holds for every entry.
    fn as_mask(&mut self, m: NodeId) -> NodeId {
        match (self.elementwise, self.ty(m)) {
            (Some(shape), Ty::Scalar) => {
                let ones = self.g.ones(shape);
                self.g.scale(m, ones)
            }
            _ => m,
        }
    }

    /// `a` where `cond` holds, `b` elsewhere, once their types agree: a scalar branch inside a
    /// `map` closure stands for every entry; otherwise both must be scalars or matrices of one
    /// shape. `texts` quote the two branches for messages.
    fn choose(
        &mut self,
        cond: NodeId,
        a: NodeId,
        b: NodeId,
        (la, lb): (String, String),
        whole: &Expr,
    ) -> Option<NodeId> {
        match (self.ty(a), self.ty(b)) {
            (Ty::Unknown, Ty::Unknown) => {
                self.cx.error_spanned_by(whole, "matgrad cannot tell the type of this branch's value: bind the values of its branches with a type first, e.g. `let a: f64 = ..;`");
                return None;
            }
            (Ty::Unknown, ty) => self.settle(a, ty),
            (ty, Ty::Unknown) => self.settle(b, ty),
            _ => {}
        }
        let (a, b) = match self.elementwise {
            Some(_) => {
                let (a, b) = (self.as_mask(a), self.as_mask(b));
                (a, b)
            }
            None => (a, b),
        };
        let cond = self.as_mask(cond);
        match (self.ty(a), self.ty(b)) {
            (Ty::Matrix(sa), Ty::Matrix(sb)) => {
                let (ta, tb) = (self.shape_text(sa), self.shape_text(sb));
                let msg = |_: &crate::ir::Graph| {
                    format!("the branches have different shapes: `{la}` is {ta} and `{lb}` is {tb}")
                };
                let ok = self.unify(sa.rows, sb.rows, whole, msg)
                    && self.unify(sa.cols, sb.cols, whole, msg);
                if !ok {
                    return None;
                }
            }
            (Ty::Scalar, Ty::Scalar) => {}
            (ta, tb) => {
                let describe = |lw: &Self, t: Ty| match t {
                    Ty::Matrix(s) => format!("a {} matrix", lw.shape_text(s)),
                    _ => "a scalar".to_string(),
                };
                let (da, db) = (describe(self, ta), describe(self, tb));
                self.cx.error_spanned_by(
                    whole,
                    format!("the branches have different types: `{la}` is {da} and `{lb}` is {db}"),
                );
                return None;
            }
        }
        let n = self.g.select(cond, a, b);
        self.g.set_span(n, whole.span());
        Some(n)
    }
}

/// A block of one expression, as that expression (for quoting it in messages).
fn unblock(e: &Expr) -> &Expr {
    match e {
        Expr::Block(b) => match b.block.stmts.as_slice() {
            [syn::Stmt::Expr(inner, None)] => inner,
            _ => e,
        },
        _ => e,
    }
}

/// A name a pattern binds, if any (`Some(k)`, `x @ 1..=3`); wildcards, literals, ranges and
/// paths bind nothing.
fn binding_in(p: &Pat) -> Option<Pat> {
    match p {
        // `None`, `MAX`: a unit variant or a constant, as Rust reads a capitalised name
        Pat::Ident(pi)
            if pi.by_ref.is_none()
                && pi.mutability.is_none()
                && pi.subpat.is_none()
                && pi.ident.to_string().starts_with(char::is_uppercase) =>
        {
            None
        }
        Pat::Ident(pi) => Some(Pat::Ident(pi.clone())),
        Pat::Or(o) => o.cases.iter().find_map(binding_in),
        Pat::Paren(pp) => binding_in(&pp.pat),
        Pat::Reference(r) => binding_in(&r.pat),
        Pat::Tuple(t) => t.elems.iter().find_map(binding_in),
        Pat::TupleStruct(t) => t.elems.iter().find_map(binding_in),
        Pat::Struct(s) => s.fields.iter().find_map(|f| binding_in(&f.pat)),
        Pat::Slice(s) => s.elems.iter().find_map(binding_in),
        Pat::Type(t) => binding_in(&t.pat),
        _ => None,
    }
}
