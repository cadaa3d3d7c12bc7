//! Emission: the graph as straight-line Rust over nalgebra.
//!
//! Every node the requested outputs need becomes one `let`, in graph order (arguments first).
//! Leaves are read through aliases bound at the top of the function: parameters
//! (`__mg_p0 = &x`), constant `let`s (emitted as the user wrote them, then `__mg_l0 = &name`)
//! and constant expressions (`__mg_o0 = &(..)`). Nothing here reports user errors: the input
//! was checked before differentiation.

use std::collections::BTreeSet;

use proc_macro2::{Ident, Literal, TokenStream, TokenTree};
use quote::{format_ident, quote};
use syn::Type;

use crate::front::{Body, Function};
use crate::ir::{Func, Graph, Index, NodeId, Op, Part};
use crate::shape::{Dim, Shape, Ty};

/// How the generated code names nalgebra: through matgrad's re-export, so that user code and
/// generated code agree on one nalgebra.
fn na() -> TokenStream {
    quote!(::matgrad::nalgebra)
}

/// Writes the body of one generated function.
pub struct Emitter<'a> {
    g: &'a Graph,
    body: &'a Body,
    f: &'a Function,
    /// What panics say, e.g. `least_squares_grad`.
    fn_name: String,
    /// How many times each node is read by the emitted nodes and outputs.
    uses: Vec<u32>,
    /// Transposes that are read only as the left factor of a matrix–vector product, which
    /// `tr_mul` computes without forming the transpose.
    folded: Vec<bool>,
    /// For each node, the last node that reads it, and whether it is returned: a temporary
    /// whose last reader is a sum, a negation or a scaling is moved into it, so that nalgebra
    /// reuses its buffer instead of allocating (straight-line code only, not inside loops).
    last_reader: Vec<Option<NodeId>>,
    returned: Vec<bool>,
    moves: bool,
    /// Inverses only ever multiplied by other matrices, kept as an LU factorisation and applied
    /// by solves; and the transposes of those inverses, applied by transposed solves.
    solved: Vec<bool>,
    solved_transpose: Vec<bool>,
    /// Embeddings (the adjoint of a view) and broadcasts (a bias repeated along rows or
    /// columns) read only by a sum: added in place into the other term, never built.
    embedded: Vec<bool>,
    /// Entrywise products read only by a scaling: s (A ⊙ B) in one pass, without the product
    /// as a temporary.
    fused: Vec<bool>,
}

impl<'a> Emitter<'a> {
    pub fn new(g: &'a Graph, body: &'a Body, f: &'a Function, fn_name: String) -> Self {
        Emitter {
            g,
            body,
            f,
            fn_name,
            uses: Vec::new(),
            folded: Vec::new(),
            last_reader: Vec::new(),
            returned: Vec::new(),
            moves: false,
            solved: Vec::new(),
            solved_transpose: Vec::new(),
            embedded: Vec::new(),
            fused: Vec::new(),
        }
    }

    fn scalar_ty(&self) -> &Type {
        &self.f.scalar
    }

    fn t(&self, id: NodeId) -> Ident {
        format_ident!("__mg_t{}", id.0)
    }

    pub fn is_leaf_alias(&self, id: NodeId) -> bool {
        matches!(self.g.op(id), Op::Param(_) | Op::Local(_) | Op::Opaque(_))
    }

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
    fn m(&self, id: NodeId) -> TokenStream {
        if self.is_leaf_alias(id) {
            let a = self.g.leaf_alias(id);
            return quote!(#a);
        }
        let t = self.t(id);
        quote!((&#t))
    }

    /// A matrix operand of `reader` that may be consumed: the temporary itself where `reader`
    /// reads it last, a reference otherwise.
    fn owned_or_ref(&self, id: NodeId, reader: NodeId) -> TokenStream {
        if self.movable(id, reader) {
            let t = self.t(id);
            quote!(#t)
        } else {
            self.m(id)
        }
    }

    /// Whether `reader` may consume the temporary `id`: it is its last reader, and nothing
    /// returns it.
    fn movable(&self, id: NodeId, reader: NodeId) -> bool {
        let g = self.g;
        self.moves
            && !self.is_leaf_alias(id)
            && !g.op(id).is_leaf()
            && !self.folded[id.index()]
            && !self.embedded[id.index()]
            && !self.fused[id.index()]
            && self.last_reader.get(id.index()).copied().flatten() == Some(reader)
            && !self.returned.get(id.index()).copied().unwrap_or(true)
            && g.args(reader).iter().filter(|&&a| a == id).count() == 1
    }

    /// A scalar operand: an expression of the scalar type.
    fn s(&self, id: NodeId) -> TokenStream {
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
    fn dim(&self, d: Dim) -> TokenStream {
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

    fn omatrix(&self) -> TokenStream {
        let na = na();
        let t = self.scalar_ty();
        quote!(#na::OMatrix::<#t, _, _>)
    }

    /// The statements computing `outputs`, and each output as an owned value.
    /// The arguments the emitted code for `n` actually reads: a scaled identity or all-ones
    /// matrix is built directly (`from_diagonal_element`, `from_element`), not from `I` or `J`.
    fn reads(&self, n: NodeId) -> Vec<NodeId> {
        let g = self.g;
        let args = g.args(n);
        if let Some(s) = self.structured(n) {
            return s.reads();
        }
        match g.op(n) {
            Op::Scale if matches!(g.op(args[1]), Op::Ones | Op::Identity) => vec![args[0]],
            // sum(J) is the number of entries, known from the shape.
            Op::Sum if matches!(g.op(args[0]), Op::Ones) => vec![],
            _ => args.to_vec(),
        }
    }

    /// A Kronecker product with an identity, or a product with one or with the commutation
    /// matrix: applied block by block or as a permutation, never built unless it is the value.
    fn structured(&self, n: NodeId) -> Option<Structured> {
        let g = self.g;
        let args = g.args(n);
        let is_eye = |x: NodeId| matches!(g.op(x), Op::Identity);
        match g.op(n) {
            Op::Kron if is_eye(args[0]) => Some(Structured::IdentityKron(args[1])),
            Op::Kron if is_eye(args[1]) => Some(Structured::KronIdentity(args[0])),
            Op::MatMul => {
                let (a, j) = (args[0], args[1]);
                match g.op(a) {
                    Op::Kron if is_eye(g.args(a)[0]) => {
                        Some(Structured::ApplyIdentityKron(g.args(a)[1], j))
                    }
                    Op::Kron if is_eye(g.args(a)[1]) => {
                        Some(Structured::ApplyKronIdentity(g.args(a)[0], j))
                    }
                    Op::Commutation { rows } => Some(Structured::Commute(*rows, j)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Decide which nodes `outputs` need, how often each is read, and which transposes are
    /// folded into `tr_mul`. Returns the needed set.
    pub fn plan(&mut self, outputs: &[NodeId]) -> Vec<bool> {
        let g = self.g;
        let mut needed = vec![false; g.len()];
        for &o in outputs {
            needed[o.index()] = true;
        }
        for id in (0..g.len()).rev() {
            if needed[id] {
                for a in self.reads(NodeId(id as u32)) {
                    needed[a.index()] = true;
                }
            }
        }
        self.uses = vec![0; g.len()];
        for (id, &is_needed) in needed.iter().enumerate() {
            if is_needed {
                for a in self.reads(NodeId(id as u32)) {
                    self.uses[a.index()] += 1;
                }
            }
        }
        for &o in outputs {
            self.uses[o.index()] += 1;
        }
        self.last_reader = vec![None; g.len()];
        for (id, &is_needed) in needed.iter().enumerate() {
            if is_needed {
                for a in self.reads(NodeId(id as u32)) {
                    self.last_reader[a.index()] = Some(NodeId(id as u32));
                }
            }
        }
        self.returned = vec![false; g.len()];
        for &o in outputs {
            self.returned[o.index()] = true;
        }
        self.plan_solves(&needed);
        self.fused = vec![false; g.len()];
        for (id, &is_needed) in needed.iter().enumerate() {
            let n = NodeId(id as u32);
            let by_scaling =
                self.last_reader[id].is_some_and(|r| *g.op(r) == Op::Scale && g.args(r)[1] == n);
            if is_needed
                && *g.op(n) == Op::Mul
                && g.ty(n).is_matrix()
                && self.uses[id] == 1
                && !self.returned[id]
                && by_scaling
                && g.args(n).iter().all(|&x| g.ty(x) == g.ty(n))
            {
                self.fused[id] = true;
            }
        }
        self.embedded = vec![false; g.len()];
        for (id, &is_needed) in needed.iter().enumerate() {
            let n = NodeId(id as u32);
            let in_sum = |r: NodeId| match g.op(r) {
                Op::Add => g.args(r)[0] != g.args(r)[1],
                Op::Sub => g.args(r)[1] == n && g.args(r)[0] != n,
                _ => false,
            };
            if is_needed
                && matches!(g.op(n), Op::Embed(..) | Op::RepeatRow | Op::RepeatColumn)
                && self.uses[id] == 1
                && !self.returned[id]
                && self.last_reader[id].is_some_and(|r| {
                    // One term of the sum must be a matrix to add into.
                    let other_embedded = g
                        .args(r)
                        .iter()
                        .any(|&x| x != n && self.embedded[x.index()]);
                    in_sum(r) && g.ty(r) == g.ty(n) && !other_embedded
                })
            {
                self.embedded[id] = true;
            }
        }
        self.folded = vec![false; g.len()];
        for (id, &is_needed) in needed.iter().enumerate() {
            let n = NodeId(id as u32);
            // A transpose read once, as the left factor of a product, is not formed: `tr_mul`
            // reads it for matrix·vector, and `tr_gemm` (gemm on a strided view) for
            // matrix·matrix, where `tr_mul` has no blocking (see PERF-NOTES).
            if is_needed && *g.op(n) == Op::MatMul {
                let a = g.args(n)[0];
                let once = self.uses[a.index()] == 1 && !self.solved_transpose[a.index()];
                if *g.op(a) == Op::Transpose && once {
                    self.folded[a.index()] = true;
                }
            }
        }
        needed
    }

    /// Which needed inverses are only ever factors of products (directly or transposed), so
    /// that solves with an LU factorisation replace the inverse: X⁻¹ B, Aᵀ X⁻¹, X⁻ᵀ A.
    fn plan_solves(&mut self, needed: &[bool]) {
        let g = self.g;
        let mut readers: Vec<Vec<NodeId>> = vec![Vec::new(); g.len()];
        for (id, &is_needed) in needed.iter().enumerate() {
            if is_needed {
                for a in self.reads(NodeId(id as u32)) {
                    readers[a.index()].push(NodeId(id as u32));
                }
            }
        }
        // A product of `m` with another matrix, m B or U m: a solve with k right-hand sides
        // costs 2n²k after the factorisation, the inverse 2n³ before its product.
        let by_vector = |r: NodeId, m: NodeId| {
            *g.op(r) == Op::MatMul && {
                let (a, b) = (g.args(r)[0], g.args(r)[1]);
                (a == m && b != m) || (b == m && a != m)
            }
        };
        self.solved = vec![false; g.len()];
        self.solved_transpose = vec![false; g.len()];
        for id in 0..g.len() {
            let c = NodeId(id as u32);
            if !needed[id] || *g.op(c) != Op::Inverse || self.returned[id] || readers[id].is_empty()
            {
                continue;
            }
            let ok = readers[id].iter().all(|&r| {
                by_vector(r, c)
                    || (*g.op(r) == Op::Transpose
                        && !self.returned[r.index()]
                        && !readers[r.index()].is_empty()
                        && readers[r.index()].iter().all(|&q| by_vector(q, r)))
            });
            if ok {
                self.solved[id] = true;
                for &r in &readers[id] {
                    if *g.op(r) == Op::Transpose {
                        self.solved_transpose[r.index()] = true;
                    }
                }
            }
        }
    }

    /// One `let` per needed node that `select` accepts, in graph order.
    pub fn lets(&self, needed: &[bool], select: impl Fn(NodeId) -> bool) -> TokenStream {
        let g = self.g;
        let mut lets = TokenStream::new();
        for (id, &is_needed) in needed.iter().enumerate() {
            let n = NodeId(id as u32);
            let is_user_leaf = g.op(n).is_leaf()
                && !matches!(
                    g.op(n),
                    Op::Identity | Op::Ones | Op::Zeros | Op::Commutation { .. }
                );
            let virtual_node =
                self.folded[id] || self.solved_transpose[id] || self.embedded[id] || self.fused[id];
            if !is_needed || virtual_node || is_user_leaf || !select(n) {
                continue;
            }
            let t = self.t(n);
            let value = self.node(n);
            lets.extend(quote!(let #t = #value;));
        }
        lets
    }

    /// The statements computing `outputs`, and each output as an owned value.
    pub fn compute(&mut self, outputs: &[NodeId]) -> (TokenStream, Vec<TokenStream>) {
        let g = self.g;
        let needed = self.plan(outputs);
        self.moves = true;
        let lets = self.lets(&needed, |_| true);
        self.moves = false;
        // Outputs are moved out where this is their last read, cloned otherwise.
        let mut remaining = self.uses.clone();
        let values = outputs
            .iter()
            .map(|&o| {
                remaining[o.index()] -= 1;
                if !g.ty(o).is_matrix() {
                    return self.s(o);
                }
                if self.is_leaf_alias(o) || remaining[o.index()] > 0 {
                    let m = self.m(o);
                    return quote!(#m.clone());
                }
                let t = self.t(o);
                quote!(#t)
            })
            .collect();
        (lets, values)
    }

    /// For code that runs `outputs` in a loop over directions: the statements that do not
    /// depend on the loop (`variant` false) go before it, the others inside. The outputs are
    /// returned as operands (`&Matrix` or a scalar) to read inside the loop.
    pub fn compute_looped(
        &mut self,
        outputs: &[NodeId],
        variant: &[bool],
    ) -> (TokenStream, TokenStream, Vec<TokenStream>) {
        let needed = self.plan(outputs);
        let varies = |n: NodeId| variant.get(n.index()).copied().unwrap_or(false);
        let before = self.lets(&needed, |n| !varies(n));
        let inside = self.lets(&needed, varies);
        let values = outputs.iter().map(|&o| self.v(o)).collect();
        (before, inside, values)
    }

    /// The expression computing one node from its arguments.
    fn node(&self, n: NodeId) -> TokenStream {
        let g = self.g;
        let args = g.args(n);
        let ty = g.ty(n);
        let is_matrix = ty.is_matrix();
        let a = args.first().copied().unwrap_or(n);
        let b = args.get(1).copied().unwrap_or(n);
        let om = self.omatrix();
        match g.op(n) {
            Op::Param(_) | Op::Local(_) | Op::Opaque(_) => self.v(n),
            Op::Lit(_) => self.s(n),
            Op::Identity => {
                let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
                quote!(#om::identity_generic(#r, #c))
            }
            Op::Ones => {
                let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
                let one = self.lit(1.0);
                quote!(#om::from_element_generic(#r, #c, #one))
            }
            Op::Zeros => {
                let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
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
            // T ± embed(B), T ± c 1ᵀ, T ± 1 r: added into T in place, never built.
            Op::Add | Op::Sub
                if is_matrix && (self.embedded[a.index()] || self.embedded[b.index()]) =>
            {
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
            Op::Sum if matches!(g.op(a), Op::Ones) => {
                let (r, c) = self.dims(g.shape(a).unwrap_or_else(unit_shape));
                let na = na();
                let count = quote!((#na::Dim::value(&#r) * #na::Dim::value(&#c)) as f64);
                let s = self.scalar_ty();
                match s {
                    Type::Path(p) if p.path.is_ident("f64") => quote!(#count),
                    _ => quote!(#na::convert::<f64, #s>(#count)),
                }
            }
            Op::Sum => {
                let x = self.m(a);
                quote!(#x.sum())
            }
            Op::Entry(i, j) => {
                let x = self.m(a);
                let (i, j) = (index(i), index(j));
                quote!(#x[(#i, #j)])
            }
            Op::Scatter(i, j) => {
                let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
                let s = self.s(a);
                let (i, j) = (index(i), index(j));
                quote!({
                    let mut __mg_m = #om::zeros_generic(#r, #c);
                    __mg_m[(#i, #j)] = #s;
                    __mg_m
                })
            }
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
            // Built entry by entry from the vector: the broadcast matrix is the result itself,
            // and no vector of ones exists.
            Op::RepeatRow | Op::RepeatColumn => {
                let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
                let x = self.m(a);
                let pick = if *g.op(n) == Op::RepeatRow {
                    quote!(|_, __mg_j| __mg_x[__mg_j])
                } else {
                    quote!(|__mg_i, _| __mg_x[__mg_i])
                };
                quote!({ let __mg_x = #x; #om::from_fn_generic(#r, #c, #pick) })
            }
            Op::View(i, j) => {
                let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
                let x = self.m(a);
                let (i, j) = (index(i), index(j));
                quote!(#x.generic_view((#i, #j), (#r, #c)).into_owned())
            }
            Op::Embed(i, j) => {
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
            Op::Cross => {
                let (x, y) = (self.m(a), self.m(b));
                quote!(#x.cross(#y))
            }
            Op::RowScale => {
                let (dv, x) = (self.m(a), self.owned_or_ref(b, n));
                quote!(::matgrad::__private::row_scale(#dv, #x))
            }
            Op::TriSolve { upper, transpose } => {
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
                    crate::pretty::node_text(g, a)
                );
                quote!(#t.#method(#v).expect(#msg))
            }
            Op::Cholesky => {
                let x = self.m(a);
                let msg = format!(
                    "{}: `{}` is not positive definite (`cholesky` returned `None`)",
                    self.fn_name,
                    crate::pretty::node_text(g, a)
                );
                quote!(#x.clone_owned().cholesky().expect(#msg).unpack())
            }
            Op::Extremum { max } => {
                let x = self.m(a);
                if *max {
                    quote!(#x.max())
                } else {
                    quote!(#x.min())
                }
            }
            Op::ArgExtremum { max } => {
                let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
                let x = self.m(a);
                let one = self.lit(1.0);
                quote!({
                    let mut __mg_m = #om::zeros_generic(#r, #c);
                    __mg_m[::matgrad::__private::arg_extremum(#x.iter(), #max)] = #one;
                    __mg_m
                })
            }
            Op::KronAdjLeft | Op::KronAdjRight => {
                let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
                let (x, y) = (self.m(a), self.m(b));
                let f = if *g.op(n) == Op::KronAdjLeft {
                    quote!(kron_adjoint_left)
                } else {
                    quote!(kron_adjoint_right)
                };
                quote!(::matgrad::__private::#f(#x, #y, #r, #c))
            }
            Op::MatMul if self.solved[a.index()] => {
                let (lu, v) = (self.m(a), self.m(b));
                quote!(#lu.solve(#v))
            }
            Op::MatMul if self.solved_transpose[a.index()] => {
                let (lu, v) = (self.m(g.args(a)[0]), self.m(b));
                quote!(#lu.solve_transposed(#v))
            }
            // u X⁻¹ = (X⁻ᵀ uᵀ)ᵀ and u X⁻ᵀ = (X⁻¹ uᵀ)ᵀ; uᵀ is read directly where u = vᵀ.
            Op::MatMul if self.solved[b.index()] || self.solved_transpose[b.index()] => {
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
            }
            Op::MatMul if self.folded[a.index()] => {
                let (x, y) = (self.m(g.args(a)[0]), self.m(b));
                if g.shape(b).is_some_and(|s| s.cols == Dim::Fixed(1)) {
                    quote!(#x.tr_mul(#y))
                } else {
                    quote!(::matgrad::__private::tr_gemm(#x, #y))
                }
            }
            Op::MatMul => {
                let (x, y) = (self.m(a), self.m(b));
                quote!(#x * #y)
            }
            Op::Scale => {
                let s = self.s(a);
                match g.op(b) {
                    Op::Ones => {
                        let (r, c) = self.dims(g.shape(b).unwrap_or_else(unit_shape));
                        quote!(#om::from_element_generic(#r, #c, #s))
                    }
                    Op::Identity => {
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
            Op::Div => match (g.ty(a).is_matrix(), g.ty(b).is_matrix()) {
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
            },
            Op::Inverse if self.solved[n.index()] => {
                let x = self.m(a);
                let msg = self.singular_message(n, a);
                let singular = if g.is_primal(n) {
                    quote!(::core::option::Option::Some(#msg))
                } else {
                    quote!(::core::option::Option::None)
                };
                quote!(::matgrad::__private::Lu::new(#x, #singular))
            }
            Op::Inverse => {
                let x = self.m(a);
                let msg = self.singular_message(n, a);
                if g.is_primal(n) {
                    // The function inverts this matrix itself, and panics where it does.
                    quote!(#x.clone_owned().try_inverse().expect(#msg))
                } else {
                    // An inverse only the derivative needs (det(A) A⁻ᵀ): at a singular matrix
                    // the function is fine and its gradient is NaN rather than a panic.
                    let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
                    let nan = self.lit(f64::NAN);
                    quote!(#x.clone_owned().try_inverse().unwrap_or_else(|| #om::from_element_generic(#r, #c, #nan)))
                }
            }
            Op::Det => {
                let x = self.m(a);
                quote!(#x.determinant())
            }
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
            Op::Stack => {
                let (r, c) = self.dims(ty.shape().unwrap_or_else(unit_shape));
                let parts: Vec<TokenStream> = args.iter().map(|&p| self.s(p)).collect();
                quote!(#om::from_column_slice_generic(#r, #c, &[#(#parts),*]))
            }
        }
    }

    /// The code of a node that `structured` recognises.
    fn structured_node(&self, n: NodeId) -> TokenStream {
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

    /// What a generated function says where the body's inversion or solve would fail.
    fn singular_message(&self, inverse: NodeId, a: NodeId) -> String {
        let what = crate::pretty::node_text(self.g, a);
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

    /// The aliases of the parameters, the constant statements and the constant expressions
    /// that `code` refers to.
    pub fn prelude(&self, code: &TokenStream) -> TokenStream {
        let mut out = TokenStream::new();
        for (i, p) in self.f.params.iter().enumerate() {
            let Some(name) = &p.name else { continue };
            let alias = format_ident!("__mg_p{}", i);
            if p.info.by_ref {
                out.extend(quote!(let #alias = #name;));
            } else {
                out.extend(quote!(let #alias = &#name;));
            }
        }
        // Constant expressions are bound only if something reads them (directly or through
        // another constant expression), so that nothing the function does not need is computed.
        let mut used = BTreeSet::new();
        collect_aliases(code, &mut used);
        let opaque = &self.g.opaque;
        for k in (0..opaque.len()).rev() {
            if used.contains(&opaque[k].alias.to_string()) {
                collect_aliases(&opaque[k].code, &mut used);
            }
        }
        // A statement matgrad replaced by a node (a vector of ones) is kept only if the code
        // that is emitted still names it.
        let mut names = BTreeSet::new();
        if self.body.stmts.iter().any(|s| s.optional.is_some()) {
            collect_idents(code, &mut names);
            for stmt in self.body.stmts.iter().filter(|s| s.optional.is_none()) {
                collect_idents(&stmt.tokens, &mut names);
            }
            for leaf in opaque
                .iter()
                .filter(|l| used.contains(&l.alias.to_string()))
            {
                collect_idents(&leaf.code, &mut names);
            }
        }
        for stmt in &self.body.stmts {
            if stmt.optional.as_ref().is_some_and(|n| !names.contains(n)) {
                continue;
            }
            out.extend(stmt.tokens.clone());
            if let Some((alias, name)) = &stmt.alias {
                out.extend(quote!(let #alias = &#name;));
            }
        }
        for leaf in opaque {
            if used.contains(&leaf.alias.to_string()) {
                let (alias, code) = (&leaf.alias, &leaf.code);
                out.extend(quote!(let #alias = &(#code);));
            }
        }
        out
    }
}

/// The structured forms of Kronecker products with an identity and of the commutation matrix.
#[derive(Clone, Copy)]
enum Structured {
    /// I ⊗ A: A copied into the diagonal blocks
    IdentityKron(NodeId),
    /// A ⊗ I: the entries of A spread along diagonals
    KronIdentity(NodeId),
    /// (I ⊗ A) J: A times each block of rows of J
    ApplyIdentityKron(NodeId, NodeId),
    /// (M ⊗ I) J: block i is Σₖ Mᵢₖ times block k of J
    ApplyKronIdentity(NodeId, NodeId),
    /// K J for matrices with this many rows: the rows of J permuted
    Commute(Dim, NodeId),
}

impl Structured {
    fn reads(self) -> Vec<NodeId> {
        match self {
            Structured::IdentityKron(a) | Structured::KronIdentity(a) => vec![a],
            Structured::ApplyIdentityKron(a, j) | Structured::ApplyKronIdentity(a, j) => vec![a, j],
            Structured::Commute(_, j) => vec![j],
        }
    }
}

fn unit_shape() -> Shape {
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

fn scalar_fn(f: Func, v: TokenStream) -> TokenStream {
    match f {
        // sign(v) with sign(0) = 0: the subgradient of |v| that is zero at the kink
        // (`f64::signum` returns 1 at +0).
        Func::Sign => quote!(::matgrad::__private::sign(#v)),
        // 1/(1 + e⁻ᵛ), which neither overflows nor loses precision for large |v|.
        Func::Sigmoid => quote!(::matgrad::__private::sigmoid(#v)),
        Func::Softplus => quote!(::matgrad::__private::softplus(#v)),
        _ => {
            let m = format_ident!("{}", f.method());
            quote!(#v.#m())
        }
    }
}

fn collect_idents(ts: &TokenStream, out: &mut BTreeSet<String>) {
    for tt in ts.clone() {
        match tt {
            TokenTree::Ident(i) => {
                out.insert(i.to_string());
            }
            TokenTree::Group(g) => collect_idents(&g.stream(), out),
            _ => {}
        }
    }
}

fn collect_aliases(ts: &TokenStream, out: &mut BTreeSet<String>) {
    for tt in ts.clone() {
        match tt {
            TokenTree::Ident(i) => {
                let s = i.to_string();
                if s.starts_with("__mg_o") {
                    out.insert(s);
                }
            }
            TokenTree::Group(g) => collect_aliases(&g.stream(), out),
            _ => {}
        }
    }
}

/// Whether a value of node type `ty` already has the type of a parameter declared as `want`.
pub fn same_type(ty: Ty, rows: crate::front::types::Axis, cols: crate::front::types::Axis) -> bool {
    use crate::front::types::Axis;
    let same = |d: Dim, a: Axis| match (d, a) {
        (Dim::Fixed(n), Axis::Fixed(m)) => n == m,
        (Dim::Dyn(_), Axis::Dyn) => true,
        _ => false,
    };
    match ty {
        Ty::Matrix(s) => same(s.rows, rows) && same(s.cols, cols),
        _ => false,
    }
}
