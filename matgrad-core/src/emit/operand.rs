//! Operands: how the code of one node names the values it reads (a matrix by reference or
//! moved, a scalar by value, a literal of the scalar type) and the nalgebra dimensions of a shape.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::Type;

use super::{na, Emitter};
use crate::ir::NodeId;
use crate::shape::{Dim, Shape};

impl Emitter<'_> {
    /// A literal of the scalar type.
    pub fn lit(&self, v: f64) -> TokenStream {
        let ty = self.scalar_ty();
        let is_f32 = matches!(ty, Type::Path(p) if p.path.is_ident("f32"));
        let is_f64 = matches!(ty, Type::Path(p) if p.path.is_ident("f64"));
        if !v.is_finite() {
            let name = if v.is_nan() {
                quote!(NAN)
            } else if v > 0.0 {
                quote!(INFINITY)
            } else {
                quote!(NEG_INFINITY)
            };
            return if is_f32 {
                quote!(::core::f32::#name)
            } else if is_f64 {
                quote!(::core::f64::#name)
            } else {
                let na = na();
                quote!(#na::convert::<f64, #ty>(::core::f64::#name))
            };
        }
        if is_f32 {
            let l = Literal::f32_suffixed(v as f32);
            return quote!(#l);
        }
        let l = Literal::f64_suffixed(v);
        if is_f64 {
            quote!(#l)
        } else {
            let na = na();
            quote!(#na::convert::<f64, #ty>(#l))
        }
    }

    /// A matrix operand: an expression of type `&Matrix`.
    pub(super) fn m(&self, id: NodeId) -> TokenStream {
        if self.is_leaf_alias(id) || self.restored.borrow().contains(&id) {
            let a = self.g.leaf_alias(id);
            return quote!(#a);
        }
        let t = self.t(id);
        quote!((&#t))
    }

    /// A matrix operand of `reader` that may be consumed: the temporary itself where `reader`
    /// reads it last, a reference otherwise.
    pub(super) fn owned_or_ref(&self, id: NodeId, reader: NodeId) -> TokenStream {
        if self.movable(id, reader) {
            let t = self.t(id);
            quote!(#t)
        } else {
            self.m(id)
        }
    }

    /// Whether `reader` may consume the temporary `id`: it is its last reader, and nothing
    /// returns it.
    pub(super) fn movable(&self, id: NodeId, reader: NodeId) -> bool {
        let g = self.g;
        self.moves
            && !self.is_leaf_alias(id)
            && !g.op(id).is_leaf()
            && !self.folded[id.index()]
            && !self.embedded[id.index()]
            && !self.fused[id.index()]
            && !self.foreign_reads.get(id.index()).copied().unwrap_or(false)
            && !self.cross_scope.get(id.index()).copied().unwrap_or(false)
            && !self.summed.get(id.index()).copied().unwrap_or(false)
            && self.last_reader.get(id.index()).copied().flatten() == Some(reader)
            && !self.returned.get(id.index()).copied().unwrap_or(true)
            && g.args(reader).iter().filter(|&&a| a == id).count() == 1
    }

    /// A scalar operand: an expression of the scalar type.
    pub(super) fn s(&self, id: NodeId) -> TokenStream {
        if let Some(v) = self.g.lit_value(id) {
            return self.lit(v);
        }
        if self.is_leaf_alias(id) {
            let a = self.g.leaf_alias(id);
            return quote!((*#a));
        }
        let t = self.t(id);
        quote!(#t)
    }

    /// An operand of either kind.
    pub fn v(&self, id: NodeId) -> TokenStream {
        if self.g.ty(id).is_matrix() {
            self.m(id)
        } else {
            self.s(id)
        }
    }

    /// The nalgebra dimension value of an axis: `Const::<N>` or `Dyn(n)`.
    pub(super) fn dim(&self, d: Dim) -> TokenStream {
        let na = na();
        match d {
            Dim::Fixed(n) => quote!(#na::Const::<#n>),
            Dim::Dyn(v) => match self.g.dims.runtime(v) {
                Some(code) => quote!(#na::Dyn(#code)),
                None => {
                    let msg = format!(
                        "matgrad: no run-time size is known for {}",
                        self.g.dims.name(v)
                    );
                    quote!(::core::compile_error!(#msg))
                }
            },
        }
    }

    pub fn dims(&self, s: Shape) -> (TokenStream, TokenStream) {
        (self.dim(s.rows), self.dim(s.cols))
    }

    /// `OMatrix::<T, _, _>`, for constructors whose dimensions are given as values.
    pub fn omatrix_type(&self) -> TokenStream {
        self.omatrix()
    }

    pub(super) fn omatrix(&self) -> TokenStream {
        let na = na();
        let t = self.scalar_ty();
        quote!(#na::OMatrix::<#t, _, _>)
    }
}
