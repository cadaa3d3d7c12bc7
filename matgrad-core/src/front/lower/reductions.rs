//! Reductions, views, broadcasts and vector methods on the active path (issue 9.2 and 9.4):
//! row and column sums and means, diagonals, extremes, views with constant bounds,
//! `normalize`, `cross`, and vectors of ones built by `from_element(n, 1.0)`, which products
//! turn into sums and broadcasts.

use proc_macro2::Span;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Expr, Lit};

use super::{int_literal, strip, text_of, Lowerer};
use crate::ir::{Index, NodeId, Op};
use crate::shape::{Dim, Shape, Ty};

impl Lowerer<'_> {
    /// Reductions, views and the vector methods of issue 9 on a matrix of the active path:
    /// `Some(result)` for the ones matgrad reads.
    pub(super) fn structural(
        &mut self,
        recv: NodeId,
        m: &syn::ExprMethodCall,
        whole: &Expr,
    ) -> Option<Option<NodeId>> {
        const METHODS: [&str; 19] = [
            "row_sum",
            "column_sum",
            "row_mean",
            "column_mean",
            "diagonal",
            "max",
            "min",
            "normalize",
            "cross",
            "column",
            "row",
            "rows",
            "columns",
            "fixed_rows",
            "fixed_columns",
            "view",
            "fixed_view",
            "xy",
            "xyz",
        ];
        let name = m.method.to_string();
        let no_args_extremum = !matches!(name.as_str(), "max" | "min") || m.args.is_empty();
        if !METHODS.contains(&name.as_str()) || !no_args_extremum {
            return None;
        }
        Some(self.structural_method(recv, m, whole))
    }

    fn structural_method(
        &mut self,
        recv: NodeId,
        m: &syn::ExprMethodCall,
        whole: &Expr,
    ) -> Option<NodeId> {
        let name = m.method.to_string();
        let span = m.method.span();
        let s = self.g.shape(recv)?;
        let args: Vec<&Expr> = m.args.iter().collect();
        let one = Dim::Fixed(1);
        let turbofish: Vec<usize> = m
            .turbofish
            .as_ref()
            .map(|t| {
                t.args
                    .iter()
                    .filter_map(|a| match a {
                        syn::GenericArgument::Const(e) => int_literal(e).map(|n| n.max(0) as usize),
                        syn::GenericArgument::Type(syn::Type::Path(p)) => {
                            p.path.get_ident().and_then(|i| {
                                i.to_string().strip_prefix('U').and_then(|n| n.parse().ok())
                            })
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let node = match (name.as_str(), args.len()) {
            ("row_sum", 0) => self.mk(
                Op::RowSum,
                vec![recv],
                Ty::Matrix(Shape::new(one, s.cols)),
                span,
            ),
            ("column_sum", 0) => self.mk(
                Op::ColumnSum,
                vec![recv],
                Ty::Matrix(Shape::new(s.rows, one)),
                span,
            ),
            // The means are the sums over the number of rows (columns) summed.
            ("row_mean" | "column_mean", 0) => {
                let (op, shape, count) = if name == "row_mean" {
                    (Op::RowSum, Shape::new(one, s.cols), s.rows)
                } else {
                    (Op::ColumnSum, Shape::new(s.rows, one), s.cols)
                };
                let sum = self.mk(op, vec![recv], Ty::Matrix(shape), span);
                let n = self.count(count, if name == "row_mean" { "m" } else { "n" }, span)?;
                self.mk(Op::Div, vec![sum, n], Ty::Matrix(shape), span)
            }
            ("diagonal", 0) => {
                if !self.require_square(recv, "diagonal", &m.receiver, whole) {
                    return None;
                }
                self.mk(
                    Op::Diagonal,
                    vec![recv],
                    Ty::Matrix(Shape::new(s.rows, one)),
                    span,
                )
            }
            ("max" | "min", 0) => self.mk(
                Op::Extremum { max: name == "max" },
                vec![recv],
                Ty::Scalar,
                span,
            ),
            // v / ‖v‖
            ("normalize", 0) => {
                let norm = self.mk(Op::Norm, vec![recv], Ty::Scalar, span);
                self.mk(Op::Div, vec![recv, norm], Ty::Matrix(s), span)
            }
            ("cross", 1) => {
                let b = self.matrix_arg(args[0], "cross")?;
                let three = Shape::new(Dim::Fixed(3), one);
                for (n, e) in [(recv, &*m.receiver), (b, args[0])] {
                    let sn = self.g.shape(n)?;
                    let t = text_of(e);
                    let ok_rows = self.unify(sn.rows, three.rows, e, |_| {
                        format!("`cross` needs 3-vectors: `{t}` does not have 3 rows")
                    });
                    let ok_cols = ok_rows
                        && self.unify(sn.cols, one, e, |_| {
                            format!("`cross` needs 3-vectors: `{t}` is not a column")
                        });
                    if !ok_cols {
                        return None;
                    }
                }
                self.mk(Op::Cross, vec![recv, b], Ty::Matrix(s), span)
            }
            // Views with constant bounds.
            ("column", 1) => {
                let j = self.index_part(args[0])?;
                self.mk(
                    Op::View(Index::Lit(0), j),
                    vec![recv],
                    Ty::Matrix(Shape::new(s.rows, one)),
                    span,
                )
            }
            ("row", 1) => {
                let i = self.index_part(args[0])?;
                self.mk(
                    Op::View(i, Index::Lit(0)),
                    vec![recv],
                    Ty::Matrix(Shape::new(one, s.cols)),
                    span,
                )
            }
            ("rows" | "columns", 2) => {
                let start = self.index_part(args[0])?;
                let len = self.dim_arg(args[1])?;
                let (at, shape) = if name == "rows" {
                    ((start, Index::Lit(0)), Shape::new(len, s.cols))
                } else {
                    ((Index::Lit(0), start), Shape::new(s.rows, len))
                };
                self.mk(Op::View(at.0, at.1), vec![recv], Ty::Matrix(shape), span)
            }
            ("fixed_rows" | "fixed_columns", 1) if turbofish.len() == 1 => {
                let start = self.index_part(args[0])?;
                let len = Dim::Fixed(turbofish[0]);
                let (at, shape) = if name == "fixed_rows" {
                    ((start, Index::Lit(0)), Shape::new(len, s.cols))
                } else {
                    ((Index::Lit(0), start), Shape::new(s.rows, len))
                };
                self.mk(Op::View(at.0, at.1), vec![recv], Ty::Matrix(shape), span)
            }
            ("view" | "fixed_view", _) => {
                let (start, size) = match (name.as_str(), args.as_slice()) {
                    ("view", [start, size]) => (*start, Some(*size)),
                    ("fixed_view", [i, j]) if turbofish.len() == 2 => {
                        let (i, j) = (self.index_part(i)?, self.index_part(j)?);
                        let shape = Shape::new(Dim::Fixed(turbofish[0]), Dim::Fixed(turbofish[1]));
                        return Some(self.mk(Op::View(i, j), vec![recv], Ty::Matrix(shape), span));
                    }
                    _ => {
                        self.cx.error_spanned_by(&m.method, "write the view as `x.view((i, j), (rows, cols))` or `x.fixed_view::<R, C>(i, j)` with constant bounds");
                        return None;
                    }
                };
                let pair = |e: &Expr| match strip(e) {
                    Expr::Tuple(t) if t.elems.len() == 2 => {
                        Some((t.elems[0].clone(), t.elems[1].clone()))
                    }
                    _ => None,
                };
                let (Some((i, j)), Some((r, c))) = (pair(start), size.and_then(pair)) else {
                    self.cx.error_spanned_by(
                        &m.args,
                        "write the view as `x.view((i, j), (rows, cols))` with constant bounds",
                    );
                    return None;
                };
                let (i, j) = (self.index_part(&i)?, self.index_part(&j)?);
                let (r, c) = (self.dim_arg(&r)?, self.dim_arg(&c)?);
                self.mk(
                    Op::View(i, j),
                    vec![recv],
                    Ty::Matrix(Shape::new(r, c)),
                    span,
                )
            }
            ("xy" | "xyz", 0) => {
                let n = if name == "xy" { 2 } else { 3 };
                self.mk(
                    Op::View(Index::Lit(0), Index::Lit(0)),
                    vec![recv],
                    Ty::Matrix(Shape::new(Dim::Fixed(n), one)),
                    span,
                )
            }
            _ => {
                let call = text_of(whole);
                self.cx.error_spanned_by(&m.method, format!("matgrad cannot read `{call}` here: check the number of arguments and write constant bounds"));
                return None;
            }
        };
        Some(node)
    }

    /// The number of entries along an axis, as a constant of the scalar type shown as `text`.
    fn count(&mut self, d: Dim, text: &str, span: Span) -> Option<NodeId> {
        let code = self.dim_code(d)?;
        let scalar = &self.f.scalar;
        let value = if matches!(text_of(scalar).as_str(), "f64" | "f32") {
            quote!((#code as #scalar))
        } else {
            quote!(::matgrad::nalgebra::convert::<f64, #scalar>(#code as f64))
        };
        Some(self.opaque_code(value, text.to_string(), Ty::Scalar, span))
    }

    /// `DVector::from_element(n, 1.0)` and its relatives with the value 1: the all-ones matrix.
    pub(super) fn ones(
        &mut self,
        owner: &str,
        last: &str,
        c: &syn::ExprCall,
        whole: &Expr,
    ) -> Option<NodeId> {
        if !matches!(last, "from_element" | "repeat") {
            return None;
        }
        let args: Vec<&Expr> = c.args.iter().collect();
        let value = args.last().map(|e| strip(e))?;
        let is_one = match value {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Float(f), ..
            }) => f.base10_parse::<f64>().ok() == Some(1.0),
            _ => false,
        };
        if !is_one {
            return None;
        }
        let shape = match (owner, args.len()) {
            ("DVector", 2) => Shape::new(self.dim_arg(args[0])?, Dim::Fixed(1)),
            ("RowDVector", 2) => Shape::new(Dim::Fixed(1), self.dim_arg(args[0])?),
            ("DMatrix", 3) => Shape::new(self.dim_arg(args[0])?, self.dim_arg(args[1])?),
            _ => return None,
        };
        Some(self.mk(Op::Ones, vec![], Ty::Matrix(shape), whole.span()))
    }
}
