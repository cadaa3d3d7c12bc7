//! Making nodes while lowering: leaves copied through as written, the types of leaves settled
//! by their context, and the shape checks whose errors point at the user's tokens.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::spanned::Spanned;
use syn::Expr;

use super::{describe_dim, guess_ty, text_of, Lowerer, CONSTANTS_NOTE};
use crate::front::types::Axis;
use crate::ir::{Graph, Leaf, NodeId, Op};
use crate::shape::{Dim, DimSource, Shape, Ty};
use crate::simplify::representative;

impl Lowerer<'_> {
    pub(super) fn mk(&mut self, op: Op, args: Vec<NodeId>, ty: Ty, span: Span) -> NodeId {
        let id = self.g.node(op, args, ty);
        self.g.set_span(id, span);
        id
    }

    pub(super) fn ty(&self, n: NodeId) -> Ty {
        self.g.ty(n)
    }

    /// A constant expression, copied through as written. One that uses the argument of a
    /// closure (an entry) cannot be: it is an error.
    pub(super) fn opaque(&mut self, e: &impl ToTokens, ty: Ty) -> NodeId {
        let text = text_of(e);
        if let Some((entry, matrix)) = self.mentioned_entry(e) {
            self.cx.error_spanned_by(e, format!("matgrad reads a closure over entries as operations on whole matrices, and cannot read `{text}`, which uses the entry `{entry}` otherwise than through operators and scalar functions: compute this part before the closure, as a constant matrix (`let c = {matrix}.map(|{entry}| ..);`), and combine it entrywise (`.component_mul(&c)`)"));
        }
        self.opaque_code(quote!(#e), text, ty, e.to_token_stream().span())
    }

    pub(super) fn opaque_code(
        &mut self,
        code: TokenStream,
        text: String,
        ty: Ty,
        span: Span,
    ) -> NodeId {
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
            scope: self.g.current_scope,
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
    pub(super) fn settle(&mut self, n: NodeId, ty: Ty) {
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
    pub(super) fn fallback(&mut self, e: &Expr, what: &str, advice: &str) -> Option<NodeId> {
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

    pub(super) fn unify(
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

    pub(super) fn shape_text(&self, s: Shape) -> String {
        format!(
            "{}×{}",
            describe_dim(&self.g, s.rows),
            describe_dim(&self.g, s.cols)
        )
    }

    pub(super) fn same_shape(
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

    pub(super) fn require_square(
        &mut self,
        a: NodeId,
        what: &str,
        recv: &Expr,
        at: &impl ToTokens,
    ) -> bool {
        let Some(s) = self.g.shape(a) else {
            return false;
        };
        let t = self.shape_text(s);
        let r = text_of(recv);
        self.unify(s.rows, s.cols, at, |_| {
            format!("`{what}` needs a square matrix, but `{r}` is {t}")
        })
    }

    pub(super) fn dim_product(&mut self, a: Dim, b: Dim, name: &str) -> Dim {
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

    pub(super) fn dim_code(&self, d: Dim) -> Option<TokenStream> {
        match d {
            Dim::Fixed(n) => Some(quote!(#n)),
            Dim::Dyn(v) => self.g.dims.runtime(v).cloned(),
        }
    }
}
