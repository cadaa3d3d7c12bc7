//! The code of each node: one nalgebra expression per operation, computed from the operands
//! of its arguments as the plan decided (moved, solved, folded, fused or structured).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Type;

use super::{na, Emitter};
use crate::ir::vocabulary::{self, Code};
use crate::ir::{Cmp, Func, Index, NodeId, Op, Part};
use crate::shape::{Dim, Shape};

impl Emitter<'_> {
    /// The expression computing one node from its arguments. An arm of more than a few lines
    /// calls a method of its own: below for blocks and broadcasts, in `linalg` for products,
    /// solves and factorisations.
    pub(super) fn node(&self, n: NodeId) -> TokenStream {
        let g = self.g;
        let args = g.args(n);
        let ty = g.ty(n);
        let is_matrix = ty.is_matrix();
        let a = args.first().copied().unwrap_or(n);
        let b = args.get(1).copied().unwrap_or(n);
        match g.op(n) {
            Op::Param(_) | Op::Local(_) | Op::Opaque(_) | Op::Carry { .. } => self.v(n),
            // Bound by the loop's statements (`loops.rs`).
            Op::LoopOut { .. } | Op::LoopAdjoint { .. } => {
                let t = self.t(n);
                quote!(#t)
            }
            Op::Lit(_) => self.s(n),
            Op::Identity => {
                let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
                let om = self.omatrix();
                quote!(#om::identity_generic(#r, #c))
            }
            Op::Ones => {
                let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
                let one = self.lit(1.0);
                let om = self.omatrix();
                quote!(#om::from_element_generic(#r, #c, #one))
            }
            Op::Zeros => {
                let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
                let om = self.omatrix();
                quote!(#om::zeros_generic(#r, #c))
            }
            _ if self.structured(n).is_some() => self.structured_node(n),
            Op::Commutation { rows } => {
                let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
                let k = self.dim(*rows);
                let na = na();
                quote!(::matgrad::__private::commutation(#na::Dim::value(&#k), #r, #c))
            }
            Op::Reshape => {
                let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
                let x = self.m(a);
                let om = self.omatrix();
                quote!(#om::from_iterator_generic(#r, #c, #x.iter().cloned()))
            }
            Op::Neg if is_matrix => {
                let x = self.owned_or_ref(a, n);
                quote!(::matgrad::__private::neg(#x))
            }
            Op::Neg => {
                let x = self.v(a);
                quote!(-#x)
            }
            Op::Add | Op::Sub
                if is_matrix && (self.embedded[a.index()] || self.embedded[b.index()]) =>
            {
                self.add_in_place(n, a, b)
            }
            Op::Add | Op::Sub if is_matrix => {
                let (x, y) = (self.owned_or_ref(a, n), self.owned_or_ref(b, n));
                if *g.op(n) == Op::Add {
                    quote!(#x + #y)
                } else {
                    quote!(#x - #y)
                }
            }
            Op::Add => {
                let (x, y) = (self.v(a), self.v(b));
                quote!(#x + #y)
            }
            Op::Sub => {
                let (x, y) = (self.v(a), self.v(b));
                quote!(#x - #y)
            }
            Op::Transpose => {
                let x = self.m(a);
                quote!(#x.transpose())
            }
            Op::Trace => {
                let x = self.m(a);
                quote!(#x.trace())
            }
            Op::Sum if matches!(g.op(a), Op::Ones) => self.count_of_ones(a),
            Op::Sum => {
                let x = self.m(a);
                quote!(#x.sum())
            }
            Op::Entry(i, j) => {
                let x = self.m(a);
                let (i, j) = (index(i), index(j));
                quote!(#x[(#i, #j)])
            }
            Op::Scatter(i, j) => self.scatter(n, a, i, j),
            Op::Triangle(Part::Lower) => {
                let x = self.m(a);
                quote!(#x.lower_triangle())
            }
            Op::Triangle(Part::Upper) => {
                let x = self.m(a);
                quote!(#x.upper_triangle())
            }
            Op::Triangle(Part::LowerHalf) => {
                let x = self.m(a);
                quote!(::matgrad::__private::lower_half(#x))
            }
            Op::Diagonal => {
                let x = self.m(a);
                quote!(#x.diagonal())
            }
            Op::FromDiagonal => {
                let x = self.m(a);
                let om = self.omatrix();
                quote!(#om::from_diagonal(#x))
            }
            Op::RowSum => {
                let x = self.m(a);
                quote!(#x.row_sum())
            }
            Op::ColumnSum => {
                let x = self.m(a);
                quote!(#x.column_sum())
            }
            Op::RepeatRow | Op::RepeatColumn => self.repeat(n, a),
            Op::View(i, j) => {
                let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
                let x = self.m(a);
                let (i, j) = (index(i), index(j));
                quote!(#x.generic_view((#i, #j), (#r, #c)).into_owned())
            }
            Op::Embed(i, j) => self.embed(n, a, i, j),
            Op::Cross => {
                let (x, y) = (self.m(a), self.m(b));
                quote!(#x.cross(#y))
            }
            Op::RowScale => {
                let (dv, x) = (self.m(a), self.owned_or_ref(b, n));
                quote!(::matgrad::__private::row_scale(#dv, #x))
            }
            Op::TriSolve { upper, transpose } => self.tri_solve(a, b, *upper, *transpose),
            Op::Cholesky => self.cholesky(a),
            Op::Extremum { max } => {
                let x = self.m(a);
                if *max {
                    quote!(#x.max())
                } else {
                    quote!(#x.min())
                }
            }
            Op::ArgExtremum { max } => self.arg_extremum(n, a, *max),
            Op::KronAdjLeft | Op::KronAdjRight => self.kron_adjoint(n, a, b),
            Op::MatMul if self.one_pass[n.index()].is_some() => self.one_pass_product(n),
            Op::MatMul => self.matmul(a, b),
            Op::Scale => self.scale(n, a, b),
            Op::Mul => {
                if is_matrix {
                    let (x, y) = (self.m(a), self.m(b));
                    quote!(#x.component_mul(#y))
                } else {
                    let (x, y) = (self.s(a), self.s(b));
                    quote!(#x * #y)
                }
            }
            Op::Kron => {
                let (x, y) = (self.m(a), self.m(b));
                quote!(#x.kronecker(#y))
            }
            Op::Dot => {
                let (x, y) = (self.m(a), self.m(b));
                quote!(#x.dot(#y))
            }
            Op::Div => self.div(n, a, b),
            Op::Inverse => self.inverse(n, a),
            Op::Det => self.determinant(a),
            Op::NormSq => {
                let x = self.m(a);
                quote!(#x.norm_squared())
            }
            Op::Norm => {
                let x = self.m(a);
                quote!(#x.norm())
            }
            Op::Elem(f) => self.unary(a, is_matrix, |v| scalar_fn(*f, v)),
            Op::Powi(k) => self.unary(a, is_matrix, |v| quote!(#v.powi(#k))),
            Op::Powf => {
                let c = self.s(b);
                let body = self.unary(a, is_matrix, |v| quote!(#v.powf(__mg_c)));
                quote!({ let __mg_c = #c; #body })
            }
            Op::AddScalar => {
                let (x, s) = (self.m(a), self.s(b));
                quote!(#x.add_scalar(#s))
            }
            Op::Max | Op::Min => {
                let c = self.s(b);
                let m = if *g.op(n) == Op::Max {
                    quote!(max)
                } else {
                    quote!(min)
                };
                let body = self.unary(a, is_matrix, |v| quote!(#v.#m(__mg_c)));
                quote!({ let __mg_c = #c; #body })
            }
            Op::Above => {
                let c = self.s(b);
                let (one, zero) = (self.lit(1.0), self.lit(0.0));
                let body = self.unary(
                    a,
                    is_matrix,
                    |v| quote!(if #v > __mg_c { #one } else { #zero }),
                );
                quote!({ let __mg_c = #c; #body })
            }
            Op::MatPow(k) => {
                let x = self.m(a);
                quote!(::matgrad::__private::matrix_power(#x, #k))
            }
            Op::Compare(cmp) => self.compare(*cmp, a, b),
            Op::KindProduct { transposed: false } => {
                let (k, x) = (self.m(a), self.m(b));
                quote!(::matgrad::__private::Times::times(#k, #x))
            }
            Op::KindProduct { transposed: true } => {
                let (k, x) = (self.m(a), self.m(b));
                quote!(::matgrad::__private::TrTimes::tr_times(#k, #x))
            }
            Op::Select => self.select(n, a, b, args.get(2).copied().unwrap_or(n)),
            Op::Stack => {
                let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
                let parts: Vec<TokenStream> = args.iter().map(|&p| self.s(p)).collect();
                let om = self.omatrix();
                quote!(#om::from_column_slice_generic(#r, #c, &[#(#parts),*]))
            }
        }
    }

    /// `[a cmp b]` as 1 or 0 of the scalar type, entrywise where either side is a matrix.
    fn compare(&self, cmp: Cmp, a: NodeId, b: NodeId) -> TokenStream {
        let g = self.g;
        let op = match cmp {
            Cmp::Lt => quote!(<),
            Cmp::Le => quote!(<=),
            Cmp::Gt => quote!(>),
            Cmp::Ge => quote!(>=),
            Cmp::Eq => quote!(==),
            Cmp::Ne => quote!(!=),
        };
        let (one, zero) = (self.lit(1.0), self.lit(0.0));
        match (g.ty(a).is_matrix(), g.ty(b).is_matrix()) {
            (false, false) => {
                let (x, y) = (self.s(a), self.s(b));
                quote!(if #x #op #y { #one } else { #zero })
            }
            (true, false) => {
                let (x, c) = (self.m(a), self.s(b));
                quote!({ let __mg_c = #c; #x.map(|__mg_v| if __mg_v #op __mg_c { #one } else { #zero }) })
            }
            (false, true) => {
                let (c, y) = (self.s(a), self.m(b));
                quote!({ let __mg_c = #c; #y.map(|__mg_v| if __mg_c #op __mg_v { #one } else { #zero }) })
            }
            (true, true) => {
                let (x, y) = (self.m(a), self.m(b));
                quote!(#x.zip_map(#y, |__mg_u, __mg_v| if __mg_u #op __mg_v { #one } else { #zero }))
            }
        }
    }

    /// A branch: the whole of `a` or `b` for a scalar condition `m` (a Rust `if`), or entry
    /// by entry for a matrix of conditions.
    fn select(&self, n: NodeId, m: NodeId, a: NodeId, b: NodeId) -> TokenStream {
        let g = self.g;
        let zero = self.lit(0.0);
        if g.ty(m).is_matrix() {
            let (c, x, y) = (self.m(m), self.m(a), self.m(b));
            return quote!(#c.zip_zip_map(#x, #y, |__mg_m, __mg_a, __mg_b| if __mg_m != #zero { __mg_a } else { __mg_b }));
        }
        let c = self.s(m);
        let (x, y) = if g.ty(n).is_matrix() {
            // The branch's own temporary where this reads it last, a copy otherwise.
            let owned = |x: NodeId| {
                if self.movable(x, n) {
                    self.owned_or_ref(x, n)
                } else {
                    let m = self.m(x);
                    quote!(#m.clone_owned())
                }
            };
            (owned(a), owned(b))
        } else {
            (self.s(a), self.s(b))
        };
        let (then_lets, else_lets) = (self.side_lets(n, true), self.side_lets(n, false));
        quote!(if #c != #zero { #then_lets #x } else { #else_lets #y })
    }

    /// T ± embed(B), T ± c 1ᵀ, T ± 1 r: B, c or r added into T in place, never built.
    fn add_in_place(&self, n: NodeId, a: NodeId, b: NodeId) -> TokenStream {
        let g = self.g;
        let (e, t) = if self.embedded[b.index()] {
            (b, a)
        } else {
            (a, b)
        };
        let inner = g.args(e)[0];
        let (br, bc) = self.dims(g.shape(inner).unwrap_or_else(unit_shape));
        let block = self.m(inner);
        let total = if self.movable(t, n) {
            let t = self.t(t);
            quote!(#t)
        } else {
            let m = self.m(t);
            quote!(#m.clone_owned())
        };
        let sub = *g.op(n) == Op::Sub;
        let op = if sub { quote!(-=) } else { quote!(+=) };
        let update = match g.op(e) {
            Op::Embed(i, j) => {
                let (i, j) = (index(i), index(j));
                quote! {
                    let mut __mg_block = __mg_m.generic_view_mut((#i, #j), (#br, #bc));
                    __mg_block #op #block;
                }
            }
            // a bias added to every column: column by column, never the broadcast
            Op::RepeatColumn => quote! {
                let __mg_c = #block;
                for mut __mg_col in __mg_m.column_iter_mut() {
                    __mg_col #op __mg_c;
                }
            },
            // a bias added to every row: entry j of the row to column j
            _ => {
                let sign = if sub { quote!(-) } else { quote!() };
                quote! {
                    let __mg_r = #block;
                    for (__mg_j, mut __mg_col) in __mg_m.column_iter_mut().enumerate() {
                        __mg_col.add_scalar_mut(#sign __mg_r[__mg_j]);
                    }
                }
            }
        };
        quote!({
            let mut __mg_m = #total;
            { #update }
            __mg_m
        })
    }

    /// sum(J): the number of entries, known from the shape.
    fn count_of_ones(&self, a: NodeId) -> TokenStream {
        let g = self.g;
        let (r, c) = self.dims(g.shape(a).unwrap_or_else(unit_shape));
        let na = na();
        let count = quote!((#na::Dim::value(&#r) * #na::Dim::value(&#c)) as f64);
        let s = self.scalar_ty();
        match s {
            Type::Path(p) if p.path.is_ident("f64") => quote!(#count),
            _ => quote!(#na::convert::<f64, #s>(#count)),
        }
    }

    /// A scalar `a` put at entry (i, j) of a zero matrix.
    fn scatter(&self, n: NodeId, a: NodeId, i: &Index, j: &Index) -> TokenStream {
        let ty = self.g.ty(n);
        let om = self.omatrix();
        let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
        let s = self.s(a);
        let (i, j) = (index(i), index(j));
        quote!({
            let mut __mg_m = #om::zeros_generic(#r, #c);
            __mg_m[(#i, #j)] = #s;
            __mg_m
        })
    }

    /// Built entry by entry from the vector: the broadcast matrix is the result itself,
    /// and no vector of ones exists.
    fn repeat(&self, n: NodeId, a: NodeId) -> TokenStream {
        let g = self.g;
        let ty = g.ty(n);
        let om = self.omatrix();
        let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
        let x = self.m(a);
        let pick = if *g.op(n) == Op::RepeatRow {
            quote!(|_, __mg_j| __mg_x[__mg_j])
        } else {
            quote!(|__mg_i, _| __mg_x[__mg_i])
        };
        quote!({ let __mg_x = #x; #om::from_fn_generic(#r, #c, #pick) })
    }

    /// A block `a` put at (i, j) of a zero matrix.
    fn embed(&self, n: NodeId, a: NodeId, i: &Index, j: &Index) -> TokenStream {
        let g = self.g;
        let ty = g.ty(n);
        let om = self.omatrix();
        let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
        let (br, bc) = self.dims(g.shape(a).unwrap_or_else(unit_shape));
        let x = self.m(a);
        let (i, j) = (index(i), index(j));
        quote!({
            let mut __mg_m = #om::zeros_generic(#r, #c);
            __mg_m.generic_view_mut((#i, #j), (#br, #bc)).copy_from(#x);
            __mg_m
        })
    }

    /// A one-hot matrix marking the first largest (or smallest) entry of `a`.
    fn arg_extremum(&self, n: NodeId, a: NodeId, max: bool) -> TokenStream {
        let ty = self.g.ty(n);
        let om = self.omatrix();
        let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
        let x = self.m(a);
        let one = self.lit(1.0);
        quote!({
            let mut __mg_m = #om::zeros_generic(#r, #c);
            __mg_m[::matgrad::__private::arg_extremum(#x.iter(), #max)] = #one;
            __mg_m
        })
    }

    /// A scalar function of one argument: applied directly to a scalar, through `map` to a matrix.
    fn unary(
        &self,
        a: NodeId,
        is_matrix: bool,
        f: impl Fn(TokenStream) -> TokenStream,
    ) -> TokenStream {
        if is_matrix {
            let x = self.m(a);
            let body = f(quote!(__mg_v));
            quote!(#x.map(|__mg_v| #body))
        } else {
            let x = self.s(a);
            f(quote!((#x)))
        }
    }
}

pub(super) fn unit_shape() -> Shape {
    Shape::new(Dim::Fixed(1), Dim::Fixed(1))
}

fn index(i: &Index) -> TokenStream {
    match i {
        Index::Lit(n) => quote!(#n),
        Index::Expr { code, .. } => code
            .parse()
            .unwrap_or_else(|_| quote!(::core::compile_error!("matgrad: bad index"))),
    }
}

/// f(v) for a scalar v, as the vocabulary table says it is computed: the method of its name,
/// or a run-time helper where no method is exact or stable (sign with sign(0) = 0, σ that does
/// not overflow).
pub(super) fn scalar_fn(f: Func, v: TokenStream) -> TokenStream {
    let entry = vocabulary::function_of(f);
    match entry.code {
        Code::Method => {
            let m = format_ident!("{}", entry.rust.unwrap_or(entry.name));
            quote!(#v.#m())
        }
        Code::Helper(name) => {
            let helper = format_ident!("{}", name);
            quote!(::matgrad::__private::#helper(#v))
        }
    }
}
