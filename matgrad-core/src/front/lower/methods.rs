//! Method and function calls: the dispatch on method names (`transpose`, `dot`, `map`, ...)
//! and on constructors and free functions (`DMatrix::from_element`, `Vector3::new`, ...).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{Expr, Lit};

use super::closures::is_iterator;
use super::{guess_ty, int_literal, strip, text_of, Factor, Lowerer, CONSTANTS_NOTE};
use crate::ir::vocabulary::{self, Lowering};
use crate::ir::{Func, NodeId, Op};
use crate::shape::{Dim, DimSource, Shape, Ty};

impl Lowerer<'_> {
    pub(super) fn method(&mut self, m: &syn::ExprMethodCall, whole: &Expr) -> Option<NodeId> {
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
        // `x.iter().map(|v| ..).sum::<f64>()`: the sum of an entrywise map.
        if matches!(name.as_str(), "sum" | "product") && nargs == 0 && is_iterator(&m.receiver) {
            return self.iterator_sum(m, whole);
        }
        let recv = self.expr(&m.receiver)?;
        let args: Vec<&Expr> = m.args.iter().collect();
        if let Some(&factor) = self.factors.get(&recv) {
            if let Some(n) = self.factor_method(factor, m, whole) {
                return n;
            }
        }
        let active = self.g.is_active(recv) || args.iter().any(|a| self.mentions_active(*a));
        // Inside a closure over entries, a method of an entry (or of a value of entries) is
        // entrywise; a method of a whole matrix the closure captures is the matrix's.
        let entrywise = self.elementwise.is_some() && self.mentioned_entry(&m.receiver).is_some();
        if active && name == "lu" && nargs == 0 && self.ty(recv).is_matrix() {
            if !self.require_square(recv, "lu", &m.receiver, whole) {
                return None;
            }
            self.factors.insert(recv, Factor::Lu(recv));
            return Some(recv);
        }
        // In a loop, a constant view indexed by the loop (`xs.column(t)`) is a view of known
        // shape, so that products with it are ordinary products.
        let view_in_loop = self.g.current_scope.is_some()
            && matches!(name.as_str(), "column" | "row" | "columns" | "rows")
            && matches!(self.g.op(recv), Op::Param(_));
        if (active || view_in_loop) && !entrywise && self.ty(recv).is_matrix() {
            if let Some(n) = self.structural(recv, m, whole) {
                return n;
            }
        }
        // A constant `map` or `zip_map` of a matrix is a matrix of its shape.
        if let (false, "map" | "zip_map", Some(s)) = (active, name.as_str(), self.g.shape(recv)) {
            return Some(self.opaque_shaped(whole, s));
        }
        if !active && (self.ty(recv) == Ty::Unknown || name == "map") {
            return Some(self.opaque(whole, guess_ty(whole)));
        }
        if active && matches!(name.as_str(), "iter" | "into_iter") && self.ty(recv).is_matrix() {
            self.cx.error_spanned_by(
                &m.method,
                format!("matgrad differentiates an iterator over a matrix's entries only where it is summed, as in `x.iter().map(|v| ..).sum::<f64>()` (through {}); for the entrywise values, write `x.map(|v| ..)`", vocabulary::iterator_methods_text()),
            );
            return None;
        }
        let ty = self.ty(recv);
        let is_matrix = ty.is_matrix();
        if let (Some(method), 0, true) = (vocabulary::matrix_method(&name), nargs, is_matrix) {
            if let Lowering::ScalarOf(op) = &method.lowering {
                return Some(self.mk(op.clone(), vec![recv], Ty::Scalar, span));
            }
        }
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
            ("zip_map", 2) if is_matrix => return self.zip_map(recv, m, whole),
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
            ("powi", 1) if !is_matrix || entrywise => {
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
            ("max" | "min", 1) if !is_matrix || entrywise => {
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
            ("powf", 1) if !is_matrix || entrywise => {
                let c = self.expr(args[0])?;
                self.settle(c, Ty::Scalar);
                if self.ty(c) != Ty::Scalar {
                    self.cx
                        .error_spanned_by(args[0], "the exponent of `powf` must be a scalar");
                    return None;
                }
                return Some(self.mk(Op::Powf, vec![recv, c], ty, span));
            }
            (f, 0) if Func::from_method(f).is_some() && (!is_matrix || entrywise) => {
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
        let is_matrix = is_matrix && !entrywise;
        let msg = if is_matrix && Func::from_method(&name).is_some() {
            format!("`.{name}()` on a matrix is not entrywise in nalgebra, and matgrad does not differentiate it: for the entrywise function write `.map(|v| v.{name}())`")
        } else if is_matrix {
            format!("matgrad cannot differentiate `{call}` on a path from a variable; the supported matrix methods are {} ({CONSTANTS_NOTE})", vocabulary::matrix_methods_text())
        } else {
            format!("matgrad cannot differentiate `{call}` on a path from a variable; the supported scalar functions are {} ({CONSTANTS_NOTE})", vocabulary::scalar_methods_text())
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

    pub(super) fn matrix_arg(&mut self, e: &Expr, method: &str) -> Option<NodeId> {
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

    pub(super) fn call(&mut self, c: &syn::ExprCall, whole: &Expr) -> Option<NodeId> {
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
        if let (Some(f), 1) = (self.function_path(&c.func), c.args.len()) {
            let a = self.expr(&c.args[0])?;
            if self.ty(a) == Ty::Scalar || self.elementwise.is_some() {
                let ty = self.ty(a);
                return Some(self.mk(Op::Elem(f), vec![a], ty, whole.span()));
            }
        }
        let name = segs.join("::");
        // A function on the active path may be a `#[differentiable]` helper, whose body is
        // read before lowering again (`front/helpers.rs`).
        if let (Some(path), true) = (path, self.mentions_active(whole)) {
            // A free function (`se`, `kernels::se`), not an associated one (`Self::f`,
            // `T::f`), a constructor (`Some(..)`) or a generic instance.
            let free = path.segments.iter().all(|s| s.arguments.is_none())
                && path.segments.iter().all(|s| s.ident != "Self")
                && path
                    .segments
                    .iter()
                    .all(|s| !s.ident.to_string().starts_with(char::is_uppercase));
            if free && c.args.iter().all(|a| !matches!(a, Expr::Closure(_))) {
                if !self.missing.iter().any(|m| m == path) {
                    self.missing.push(path.clone());
                }
                return None;
            }
        }
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
    pub(super) fn dim_arg(&mut self, e: &Expr) -> Option<Dim> {
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
