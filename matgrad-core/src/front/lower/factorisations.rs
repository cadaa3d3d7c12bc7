//! Factorisations and solves on the active path (issue 9.1): `a.clone().lu()` and its
//! `.solve(&b).unwrap()`, `.determinant()`; `a.clone().cholesky().unwrap()` and its `.l()`,
//! `.solve(&b)`, `.inverse()`, `.determinant()`; triangular solves. A Cholesky factor is the
//! node `Op::Cholesky`, its solves are triangular solves with it, so that differentiation
//! reuses the factor; an LU solve is an inverse that is only multiplied, which the emitter
//! turns into a factorisation and solves.

use proc_macro2::Span;
use syn::{Expr, Ident};

use super::{strip, text_of, Factor, Lowerer};
use crate::ir::{Func, NodeId, Op, Part};
use crate::shape::{Dim, Shape, Ty};

impl Lowerer<'_> {
    /// `x.unwrap()` / `x.expect(..)` of a factorisation or a solve on the active path:
    /// `a.cholesky()`, `lu.solve(&b)`, `t.solve_lower_triangular(&b)`. `None` if `m` is none
    /// of these (or not on the active path); `Some(result)` otherwise.
    pub(super) fn unwrapped(
        &mut self,
        m: &syn::ExprMethodCall,
        whole: &Expr,
        span: Span,
    ) -> Option<Option<NodeId>> {
        let Expr::MethodCall(inner) = strip(&m.receiver) else {
            return None;
        };
        let method = inner.method.to_string();
        let nargs = inner.args.len();
        let known = matches!(
            (method.as_str(), nargs),
            ("cholesky", 0)
                | ("solve", 1)
                | ("solve_lower_triangular", 1)
                | ("solve_upper_triangular", 1)
        );
        if !known || !self.mentions_active(whole) {
            return None;
        }
        let recv = self.expr(&inner.receiver);
        let Some(recv) = recv else {
            return Some(None);
        };
        match (method.as_str(), self.factors.get(&recv).copied()) {
            ("solve", Some(Factor::Lu(a))) => {
                let b = self.solve_rhs(a, &inner.args[0], &inner.method)?;
                Some(self.lu_solve(a, b, span))
            }
            ("solve", _) => None,
            ("cholesky", _) => {
                if !self.ty(recv).is_matrix() {
                    return None;
                }
                if !self.require_square(recv, "cholesky", &inner.receiver, whole) {
                    return Some(None);
                }
                let ty = self.ty(recv);
                let l = self.mk(Op::Cholesky, vec![recv], ty, span);
                // The factorisation object is a node of its own (the factor's lower triangle,
                // the same values), so that `chol.determinant()` (det A) and
                // `chol.l().determinant()` (det L) stay apart.
                let object = self.mk(Op::Triangle(Part::Lower), vec![l], ty, span);
                self.factors.insert(object, Factor::Cholesky(l));
                Some(Some(object))
            }
            (tri, _) => {
                if !self.ty(recv).is_matrix() {
                    return None;
                }
                if !self.require_square(recv, tri, &inner.receiver, whole) {
                    return Some(None);
                }
                let Some(b) = self.solve_rhs(recv, &inner.args[0], &inner.method)? else {
                    return Some(None);
                };
                let upper = tri == "solve_upper_triangular";
                let ty = self.ty(b);
                Some(Some(self.mk(
                    Op::TriSolve {
                        upper,
                        transpose: false,
                    },
                    vec![recv, b],
                    ty,
                    span,
                )))
            }
        }
    }

    /// The right-hand side of a solve with the square matrix `a`: a matrix whose rows match.
    fn solve_rhs(&mut self, a: NodeId, e: &Expr, method: &Ident) -> Option<Option<NodeId>> {
        let Some(b) = self.matrix_arg(e, &method.to_string()) else {
            return Some(None);
        };
        let (sa, sb) = (self.g.shape(a)?, self.g.shape(b)?);
        let (ta, tb) = (self.shape_text(sa), self.shape_text(sb));
        let lb = text_of(e);
        let ok = self.unify(sa.rows, sb.rows, method, |_| {
            format!("cannot solve with a {ta} matrix for `{lb}` ({tb}): their row counts differ")
        });
        Some(ok.then_some(b))
    }

    /// A⁻¹ B, as the graph writes it: an inverse only multiplied is emitted as LU solves.
    fn lu_solve(&mut self, a: NodeId, b: Option<NodeId>, span: Span) -> Option<NodeId> {
        let b = b?;
        let ty = self.ty(a);
        let inv = self.mk(Op::Inverse, vec![a], ty, span);
        self.g.solves.insert(inv);
        let s = Shape::new(self.g.shape(a)?.rows, self.g.shape(b)?.cols);
        Some(self.mk(Op::MatMul, vec![inv, b], Ty::Matrix(s), span))
    }

    /// A method of a factorisation object: `Some(result)` if it is one matgrad reads.
    pub(super) fn factor_method(
        &mut self,
        factor: Factor,
        m: &syn::ExprMethodCall,
        whole: &Expr,
    ) -> Option<Option<NodeId>> {
        let name = m.method.to_string();
        let span = m.method.span();
        match (factor, name.as_str(), m.args.len()) {
            (Factor::Lu(a), "determinant", 0) => {
                Some(Some(self.mk(Op::Det, vec![a], Ty::Scalar, span)))
            }
            (Factor::Cholesky(l), "l" | "unpack", 0) => Some(Some(l)),
            // (L Lᵀ)⁻¹ b = L⁻ᵀ (L⁻¹ b): two triangular solves with the factor.
            (Factor::Cholesky(l), "solve", 1) => {
                let b = self.solve_rhs(l, &m.args[0], &m.method)?;
                Some(b.map(|b| self.cholesky_solve(l, b, span)))
            }
            (Factor::Cholesky(l), "inverse", 0) => {
                let s = self.g.shape(l)?;
                let eye = self.mk(Op::Identity, vec![], Ty::Matrix(s), span);
                Some(Some(self.cholesky_solve(l, eye, span)))
            }
            // det A = (Πᵢ Lᵢᵢ)² and ln det A = 2 Σᵢ ln Lᵢᵢ, from the factor.
            (Factor::Cholesky(l), "determinant" | "ln_determinant", 0) => {
                let s = self.g.shape(l)?;
                let d = self.mk(
                    Op::Diagonal,
                    vec![l],
                    Ty::Matrix(Shape::new(s.rows, Dim::Fixed(1))),
                    span,
                );
                let ln = self.mk(Op::Elem(Func::Ln), vec![d], self.ty(d), span);
                let sum = self.mk(Op::Sum, vec![ln], Ty::Scalar, span);
                let two = self.mk(Op::lit(2.0), vec![], Ty::Scalar, span);
                let logdet = self.mk(Op::Mul, vec![two, sum], Ty::Scalar, span);
                if name == "ln_determinant" {
                    return Some(Some(logdet));
                }
                Some(Some(self.mk(
                    Op::Elem(Func::Exp),
                    vec![logdet],
                    Ty::Scalar,
                    span,
                )))
            }
            (Factor::Lu(_), _, _) => None,
            _ => {
                let what = match factor {
                    Factor::Lu(_) => "an LU factorisation: matgrad reads `.solve(&b).unwrap()`, `.determinant()` and `.try_inverse().unwrap()`",
                    Factor::Cholesky(_) => "a Cholesky factorisation: matgrad reads `.l()`, `.unpack()`, `.solve(&b)`, `.inverse()`, `.determinant()` and `.ln_determinant()`",
                };
                if name == "try_inverse" || name == "unwrap" || name == "expect" {
                    return None;
                }
                self.cx.error_spanned_by(
                    &m.method,
                    format!(
                        "matgrad cannot differentiate `.{name}{}` of {what}",
                        if m.args.is_empty() { "()" } else { "(..)" }
                    ),
                );
                let _ = whole;
                Some(None)
            }
        }
    }

    fn cholesky_solve(&mut self, l: NodeId, b: NodeId, span: Span) -> NodeId {
        let ty = self.ty(b);
        let y = self.mk(
            Op::TriSolve {
                upper: false,
                transpose: false,
            },
            vec![l, b],
            ty,
            span,
        );
        self.mk(
            Op::TriSolve {
                upper: false,
                transpose: true,
            },
            vec![l, y],
            ty,
            span,
        )
    }
}
