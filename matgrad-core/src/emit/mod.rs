//! Emission: the graph as straight-line Rust over nalgebra.
//!
//! Every node the requested outputs need becomes one `let`, in graph order (arguments first).
//! Leaves are read through aliases bound at the top of the function: parameters
//! (`__mg_p0 = &x`), constant `let`s (emitted as the user wrote them, then `__mg_l0 = &name`)
//! and constant expressions (`__mg_o0 = &(..)`). Nothing here reports user errors: the input
//! was checked before differentiation.

mod branches;
mod linalg;
mod loops;
mod node;
mod operand;
mod plan;
mod prelude;

// The expansions name it here; it compares a node's type with a declared type, so it lives
// with the declared types.
pub use crate::front::types::same_type;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use syn::Type;

use crate::front::{Body, Function};
use crate::ir::{Graph, NodeId, Op};

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
    /// Names a node in those panics.
    describe: fn(&Graph, NodeId) -> String,
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
    /// Products Xᵀ r whose r is an entrywise chain of X w, computed in one pass over X
    /// (`plan.rs`, `OnePass`).
    one_pass: Vec<Option<plan::OnePass>>,
    /// The nodes the outputs need, and for straight-line code the block each one's `let` goes
    /// in (`branches.rs`); nodes read from another block are never moved.
    needed: Vec<bool>,
    owner: Vec<branches::Block>,
    foreign_reads: Vec<bool>,
    /// The loops whose iteration is being written (none: the top level), and the residuals
    /// an adjoint loop restored from the tape as references (`loops.rs`).
    here: std::cell::RefCell<Vec<usize>>,
    restored: std::cell::RefCell<std::collections::BTreeSet<NodeId>>,
    /// Nodes read in another scope than their own: never moved.
    cross_scope: Vec<bool>,
    /// Products summed into a loop's accumulator in place (`gemm`, `ger`), never built, with
    /// the transposes they read (`loops.rs`).
    summed: Vec<bool>,
    /// Transposes of a loop's values read only by its adjoint loop, which computes them from
    /// the stored argument (`loops.rs`).
    remat: Vec<bool>,
    /// The loops already written (a loop is written at the first of its results).
    written: std::cell::RefCell<std::collections::BTreeSet<usize>>,
}

impl<'a> Emitter<'a> {
    /// `describe` names a node in the messages of generated panics (the printer's formula,
    /// which expansion passes in, so that emission does not depend on printing).
    pub fn new(
        g: &'a Graph,
        body: &'a Body,
        f: &'a Function,
        fn_name: String,
        describe: fn(&Graph, NodeId) -> String,
    ) -> Self {
        Emitter {
            g,
            body,
            f,
            fn_name,
            describe,
            uses: Vec::new(),
            needed: Vec::new(),
            owner: Vec::new(),
            foreign_reads: Vec::new(),
            folded: Vec::new(),
            last_reader: Vec::new(),
            returned: Vec::new(),
            moves: false,
            solved: Vec::new(),
            solved_transpose: Vec::new(),
            embedded: Vec::new(),
            fused: Vec::new(),
            one_pass: Vec::new(),
            here: Default::default(),
            restored: Default::default(),
            cross_scope: Vec::new(),
            written: Default::default(),
            summed: Vec::new(),
            remat: Vec::new(),
        }
    }

    fn scalar_ty(&self) -> &Type {
        &self.f.scalar
    }

    fn t(&self, id: NodeId) -> Ident {
        format_ident!("__mg_t{}", id.0)
    }

    /// A node as a formula, for the messages of generated panics.
    fn text(&self, id: NodeId) -> String {
        (self.describe)(self.g, id)
    }

    pub fn is_leaf_alias(&self, id: NodeId) -> bool {
        matches!(
            self.g.op(id),
            Op::Param(_) | Op::Local(_) | Op::Opaque(_) | Op::Carry { .. }
        )
    }

    /// One `let` per needed node that `select` accepts, in graph order.
    pub fn lets(&self, needed: &[bool], select: impl Fn(NodeId) -> bool) -> TokenStream {
        let g = self.g;
        let mut lets = TokenStream::new();
        // Each call writes the loops it needs (`loops.rs`): code run per direction runs a loop
        // again beside its tangent.
        let written = self.written.take();
        for n in self.order(needed) {
            let id = n.index();
            let is_needed = needed[id];
            let is_user_leaf = g.op(n).is_leaf()
                && !matches!(
                    g.op(n),
                    Op::Identity | Op::Ones | Op::Zeros | Op::Commutation { .. }
                );
            let virtual_node = self.folded[id]
                || self.solved_transpose[id]
                || self.embedded[id]
                || self.fused[id]
                || self.summed.get(id).copied().unwrap_or(false)
                || self.remat.get(id).copied().unwrap_or(false);
            if !is_needed
                || virtual_node
                || is_user_leaf
                || !self.is_here(g.scope_of(n))
                || !select(n)
            {
                continue;
            }
            if matches!(g.op(n), Op::LoopOut { .. } | Op::LoopAdjoint { .. }) {
                lets.extend(self.loop_lets(n, needed, &select));
                continue;
            }
            let t = self.t(n);
            let value = self.node(n);
            lets.extend(quote!(let #t = #value;));
        }
        self.written.replace(written);
        lets
    }

    /// The statements computing `outputs`, and each output as an owned value.
    pub fn compute(&mut self, outputs: &[NodeId]) -> (TokenStream, Vec<TokenStream>) {
        let g = self.g;
        let needed = self.plan(outputs);
        self.plan_blocks(&needed, outputs);
        self.needed = needed.clone();
        self.moves = true;
        let lets = self.lets(&needed, |n| self.block(n).is_none());
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
        // Loops compute branches eagerly: every node at its place.
        self.needed.clear();
        self.owner.clear();
        self.foreign_reads.clear();
        let variant = self.group_variance(variant, &needed);
        let varies = |n: NodeId| variant.get(n.index()).copied().unwrap_or(false);
        let before = self.lets(&needed, |n| !varies(n));
        let inside = self.lets(&needed, varies);
        let values = outputs.iter().map(|&o| self.v(o)).collect();
        (before, inside, values)
    }
}
