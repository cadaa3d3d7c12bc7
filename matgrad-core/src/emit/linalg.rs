//! The code of products, solves and factorisations: the nodes whose emission depends most on the
//! plan (inverses kept as LU factorisations, folded transposes, fused scalings, Kronecker
//! products with an identity), and the messages of those that can fail at run time.

use proc_macro2::TokenStream;
use quote::quote;

use super::node::unit_shape;
use super::plan::Structured;
use super::{na, Emitter};
use crate::ir::{NodeId, Op};
use crate::shape::Dim;

impl Emitter<'_> {
    /// A Kronecker product with an identity, or a product with one or with the commutation
    /// matrix, as `structured` recognised it.
    pub(super) fn structured_node(&self, n: NodeId) -> TokenStream {
        let g = self.g;
        let (r, c) = self.dims(g.shape(n).unwrap_or_else(unit_shape));
        let p = quote!(::matgrad::__private);
        match self.structured(n) {
            Some(Structured::IdentityKron(a)) => {
                let x = self.m(a);
                quote!(#p::kron_identity_left(#x, #r, #c))
            }
            Some(Structured::KronIdentity(a)) => {
                let x = self.m(a);
                quote!(#p::kron_identity_right(#x, #r, #c))
            }
            Some(Structured::ApplyIdentityKron(a, j)) => {
                let (x, y) = (self.m(a), self.m(j));
                quote!(#p::apply_kron_identity_left(#x, #y, #r))
            }
            Some(Structured::ApplyKronIdentity(m, j)) => {
                let (x, y) = (self.m(m), self.m(j));
                quote!(#p::apply_kron_identity_right(#x, #y, #r))
            }
            Some(Structured::Commute(rows, j)) => {
                let y = self.m(j);
                let k = self.dim(rows);
                let na = na();
                quote!(#p::commute_rows(#y, #na::Dim::value(&#k)))
            }
            None => quote!(::core::compile_error!("matgrad: no structured form")),
        }
    }

    /// The adjoint of a Kronecker product with respect to its left or right factor.
    pub(super) fn kron_adjoint(&self, n: NodeId, a: NodeId, b: NodeId) -> TokenStream {
        let g = self.g;
        let (r, c) = self.dims(g.ty(n).shape().unwrap_or_else(unit_shape));
        let (x, y) = (self.m(a), self.m(b));
        let f = if *g.op(n) == Op::KronAdjLeft {
            quote!(kron_adjoint_left)
        } else {
            quote!(kron_adjoint_right)
        };
        quote!(::matgrad::__private::#f(#x, #y, #r, #c))
    }

    /// Xᵀ r with r an entrywise chain of z = X w (`plan_one_pass`): the chain as one closure
    /// of zᵢ and the entries i of its other vectors, X read once by `tr_mul_map` where X is large.
    pub(super) fn one_pass_product(&self, n: NodeId) -> TokenStream {
        let Some(p) = &self.one_pass[n.index()] else {
            return quote!(::core::compile_error!("matgrad: no one-pass product"));
        };
        let (x, w) = (self.m(p.x), self.m(p.w));
        let entry = self.chain_entry(p, p.r);
        let vectors = p
            .outside
            .iter()
            .filter(|&&a| self.g.ty(a).is_matrix())
            .map(|&a| {
                let m = self.m(a);
                quote!(&*::matgrad::__private::column_slice(#m))
            });
        quote!(::matgrad::__private::tr_mul_map(#x, #w, [#(#vectors),*], |__mg_z, __mg_o| #entry))
    }

    /// Entry i of chain node `c` as a scalar expression of `__mg_z` (entry i of X w) and
    /// `__mg_o` (entry i of each outside vector).
    fn chain_entry(&self, p: &super::plan::OnePass, c: NodeId) -> TokenStream {
        let g = self.g;
        if c == p.z {
            return quote!(__mg_z);
        }
        let operand = |a: NodeId| {
            if p.outside.contains(&a) {
                if g.ty(a).is_matrix() {
                    // entry i of the k-th outside vector, handed to the closure in `__mg_o`
                    let k = p
                        .outside
                        .iter()
                        .filter(|&&o| g.ty(o).is_matrix())
                        .position(|&o| o == a)
                        .unwrap_or(0);
                    quote!(__mg_o[#k])
                } else {
                    let s = self.s(a);
                    quote!((#s))
                }
            } else {
                let e = self.chain_entry(p, a);
                quote!((#e))
            }
        };
        let args = g.args(c);
        match g.op(c) {
            Op::Elem(f) => super::node::scalar_fn(*f, operand(args[0])),
            Op::Powi(k) => {
                let v = operand(args[0]);
                quote!(#v.powi(#k))
            }
            Op::Neg => {
                let v = operand(args[0]);
                quote!(-#v)
            }
            Op::Add | Op::AddScalar => {
                let (u, v) = (operand(args[0]), operand(args[1]));
                quote!(#u + #v)
            }
            Op::Sub => {
                let (u, v) = (operand(args[0]), operand(args[1]));
                quote!(#u - #v)
            }
            Op::Mul => {
                let (u, v) = (operand(args[0]), operand(args[1]));
                quote!(#u * #v)
            }
            Op::Div => {
                let (u, v) = (operand(args[0]), operand(args[1]));
                quote!(#u / #v)
            }
            Op::Scale => {
                let (s, v) = (operand(args[0]), operand(args[1]));
                quote!(#v * #s)
            }
            Op::Max => {
                let (u, v) = (operand(args[0]), operand(args[1]));
                quote!(#u.max(#v))
            }
            Op::Min => {
                let (u, v) = (operand(args[0]), operand(args[1]));
                quote!(#u.min(#v))
            }
            _ => quote!(::core::compile_error!("matgrad: not an entrywise chain")),
        }
    }

    /// A b: a solve where a factor is an inverse kept as an LU factorisation, `tr_mul` or
    /// `tr_gemm` where the left factor is a folded transpose, `*` otherwise.
    pub(super) fn matmul(&self, a: NodeId, b: NodeId) -> TokenStream {
        let g = self.g;
        if self.solved[a.index()] {
            let (lu, v) = (self.m(a), self.m(b));
            quote!(#lu.solve(#v))
        } else if self.solved_transpose[a.index()] {
            let (lu, v) = (self.m(g.args(a)[0]), self.m(b));
            quote!(#lu.solve_transposed(#v))
        } else if self.solved[b.index()] || self.solved_transpose[b.index()] {
            // u X⁻¹ = (X⁻ᵀ uᵀ)ᵀ and u X⁻ᵀ = (X⁻¹ uᵀ)ᵀ; uᵀ is read directly where u = vᵀ.
            let ut = match g.op(a) {
                Op::Transpose => self.m(g.args(a)[0]),
                _ => {
                    let u = self.m(a);
                    quote!(&#u.transpose())
                }
            };
            if self.solved[b.index()] {
                let lu = self.m(b);
                quote!(#lu.solve_transposed(#ut).transpose())
            } else {
                let lu = self.m(g.args(b)[0]);
                quote!(#lu.solve(#ut).transpose())
            }
        } else if self.folded[a.index()] {
            let (x, y) = (self.m(g.args(a)[0]), self.m(b));
            if g.shape(b).is_some_and(|s| s.cols == Dim::Fixed(1)) {
                quote!(#x.tr_mul(#y))
            } else {
                quote!(::matgrad::__private::tr_gemm(#x, #y))
            }
        } else {
            let (x, y) = (self.m(a), self.m(b));
            quote!(#x * #y)
        }
    }

    /// s B: built directly where B is J or I, in one pass with a fused entrywise product,
    /// into B's buffer where this is its last read.
    pub(super) fn scale(&self, n: NodeId, a: NodeId, b: NodeId) -> TokenStream {
        let g = self.g;
        let s = self.s(a);
        match g.op(b) {
            Op::Ones => {
                let om = self.omatrix();
                let (r, c) = self.dims(g.shape(b).unwrap_or_else(unit_shape));
                quote!(#om::from_element_generic(#r, #c, #s))
            }
            Op::Identity => {
                let om = self.omatrix();
                let (r, c) = self.dims(g.shape(b).unwrap_or_else(unit_shape));
                quote!(#om::from_diagonal_element_generic(#r, #c, #s))
            }
            _ if self.fused[b.index()] => {
                let (x, y) = (self.m(g.args(b)[0]), self.m(g.args(b)[1]));
                quote!({ let __mg_s = #s; #x.zip_map(#y, |__mg_a, __mg_b| __mg_a * __mg_b * __mg_s) })
            }
            _ => {
                let m = self.owned_or_ref(b, n);
                quote!(#m * #s)
            }
        }
    }

    /// a / b: entrywise for two matrices, by a scalar otherwise.
    pub(super) fn div(&self, n: NodeId, a: NodeId, b: NodeId) -> TokenStream {
        let g = self.g;
        match (g.ty(a).is_matrix(), g.ty(b).is_matrix()) {
            (true, true) => {
                let (x, y) = (self.m(a), self.m(b));
                quote!(#x.component_div(#y))
            }
            (true, false) => {
                let (x, y) = (self.owned_or_ref(a, n), self.s(b));
                quote!(#x / #y)
            }
            _ => {
                let (x, y) = (self.s(a), self.s(b));
                quote!(#x / #y)
            }
        }
    }

    /// A solve with a triangular matrix, plain or transposed.
    pub(super) fn tri_solve(
        &self,
        a: NodeId,
        b: NodeId,
        upper: bool,
        transpose: bool,
    ) -> TokenStream {
        let (t, v) = (self.m(a), self.m(b));
        let method = match (upper, transpose) {
            (false, false) => quote!(solve_lower_triangular),
            (true, false) => quote!(solve_upper_triangular),
            (false, true) => quote!(tr_solve_lower_triangular),
            (true, true) => quote!(tr_solve_upper_triangular),
        };
        let msg = format!(
            "{}: cannot solve with the triangle of `{}`: it has a zero on its diagonal",
            self.fn_name,
            self.text(a)
        );
        quote!(#t.#method(#v).expect(#msg))
    }

    /// The Cholesky factor L of A = L Lᵀ.
    pub(super) fn cholesky(&self, a: NodeId) -> TokenStream {
        let x = self.m(a);
        let msg = format!(
            "{}: `{}` is not positive definite (`cholesky` returned `None`)",
            self.fn_name,
            self.text(a)
        );
        if self.dynamic(a) {
            quote!(::matgrad::__private::cholesky(#x).expect(#msg))
        } else {
            quote!(#x.clone_owned().cholesky().expect(#msg).unpack())
        }
    }

    /// Whether `a` is a matrix of run-time size: its factorisations go through the run-time
    /// helpers, which choose faer's kernels or nalgebra's by size (`matgrad::kernels`); static
    /// shapes stay inline nalgebra.
    pub(super) fn dynamic(&self, a: NodeId) -> bool {
        self.g
            .shape(a)
            .is_some_and(|s| matches!(s.rows, Dim::Dyn(_)) || matches!(s.cols, Dim::Dyn(_)))
    }

    /// det A: the run-time helper for a matrix of run-time size, nalgebra's otherwise.
    pub(super) fn determinant(&self, a: NodeId) -> TokenStream {
        let x = self.m(a);
        if self.dynamic(a) {
            quote!(::matgrad::__private::determinant(#x))
        } else {
            quote!(#x.determinant())
        }
    }

    /// A⁻¹ (node `n`, of `a`): an LU factorisation where the plan applies it by solves, the
    /// inverse otherwise.
    pub(super) fn inverse(&self, n: NodeId, a: NodeId) -> TokenStream {
        let g = self.g;
        let x = self.m(a);
        // Only the function's own inversions panic: their message prints `a`'s formula.
        if self.solved[n.index()] {
            let singular = if g.is_primal(n) {
                let msg = self.singular_message(n, a);
                quote!(::core::option::Option::Some(#msg))
            } else {
                quote!(::core::option::Option::None)
            };
            quote!(::matgrad::__private::Lu::new(#x, #singular))
        } else {
            let inverse = if self.dynamic(a) {
                quote!(::matgrad::__private::try_inverse(#x))
            } else {
                quote!(#x.clone_owned().try_inverse())
            };
            if g.is_primal(n) {
                // The function inverts this matrix itself, and panics where it does.
                let msg = self.singular_message(n, a);
                quote!(#inverse.expect(#msg))
            } else {
                // An inverse only the derivative needs (det(A) A⁻ᵀ): at a singular matrix
                // the function is fine and its gradient is NaN rather than a panic.
                let om = self.omatrix();
                let (r, c) = self.dims(g.ty(n).shape().unwrap_or_else(unit_shape));
                let nan = self.lit(f64::NAN);
                quote!(#inverse.unwrap_or_else(|| #om::from_element_generic(#r, #c, #nan)))
            }
        }
    }

    /// What a generated function says where the body's inversion or solve would fail.
    fn singular_message(&self, inverse: NodeId, a: NodeId) -> String {
        let what = self.text(a);
        if self.g.solves.contains(&inverse) {
            format!(
                "{}: cannot solve with `{what}`: the matrix is singular (`lu().solve(..)` returned `None`)",
                self.fn_name
            )
        } else {
            format!(
                "{}: cannot invert `{what}`: the matrix is singular (`try_inverse` returned `None`)",
                self.fn_name
            )
        }
    }
}
