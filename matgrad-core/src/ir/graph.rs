use std::collections::HashMap;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use super::op::Op;
use crate::shape::{Dims, Shape, Ty};

/// A node of the graph. Ids are dense and topologically ordered: arguments come first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

#[derive(Clone, Debug)]
pub struct Node {
    pub op: Op,
    pub args: Vec<NodeId>,
    pub ty: Ty,
}

/// A leaf that stands for code the user wrote: a constant `let` or an opaque expression.
///
/// Generated code binds `let alias = &(code);` once, and refers to the value through `alias`.
#[derive(Clone, Debug)]
pub struct Leaf {
    /// The expression whose value the leaf is (the name of a `let`, or the copied expression).
    pub code: TokenStream,
    /// How formulas show it.
    pub text: String,
    /// The name generated code binds a reference to the value to.
    pub alias: Ident,
    /// The loop whose body computes it (from the loop's index), or `None` for the top level.
    pub scope: Option<usize>,
}

/// The expression graph of one function, and everything derived from it.
///
/// Nodes are hash-consed: building the same operation on the same arguments twice returns the
/// same node, so a sub-expression that appears twice is computed, and differentiated, once.
#[derive(Default, Debug)]
pub struct Graph {
    pub nodes: Vec<Node>,
    /// The type is part of the key: a leaf such as `Identity` is one node per shape.
    index: HashMap<(Op, Vec<NodeId>, Ty), NodeId>,
    /// Where in the user's code a node came from, for messages.
    pub spans: Vec<Option<Span>>,
    /// Whether each node depends on a variable.
    pub active: Vec<bool>,
    pub dims: Dims,
    /// Constant `let`s of the user, by `Op::Local` index.
    pub locals: Vec<Leaf>,
    /// Constant expressions copied through, by `Op::Opaque` index.
    pub opaque: Vec<Leaf>,
    /// Parameter names, by `Op::Param` index.
    pub params: Vec<String>,
    /// Which parameters are variables.
    pub variables: Vec<bool>,
    /// The names the body's `let`s give to nodes of the active path, for formulas too long to
    /// read inline (`… where k = …`).
    pub names: HashMap<NodeId, String>,
    /// Inverses that stand for an LU solve of the body (`a.lu().solve(&b)`), for messages.
    pub solves: std::collections::HashSet<NodeId>,
    /// Nodes below this id belong to the function itself (its forward pass); nodes from
    /// here on were built by differentiation.
    pub primal_len: usize,
    /// The loops (`ir/loops.rs`), by the index `Op::Carry`, `Op::LoopOut` and `Op::LoopAdjoint`
    /// name.
    pub loops: Vec<super::Loop>,
    /// The innermost loop each node belongs to (`None`: the function's top level).
    pub scope: Vec<Option<usize>>,
    /// The loop whose body is being read: the scope of the constants lowering creates.
    pub current_scope: Option<usize>,
    /// `checkpoint`: the backward pass through a loop recomputes segments of the forward pass
    /// from about √n stored states instead of reading a tape of every iteration.
    pub checkpoint: bool,
}

impl Graph {
    /// The node for `op(args)`, created if it does not exist yet. No simplification.
    pub fn node(&mut self, op: Op, args: Vec<NodeId>, ty: Ty) -> NodeId {
        let key = (op, args, ty);
        if let Some(&id) = self.index.get(&key) {
            return id;
        }
        let id = NodeId(self.nodes.len() as u32);
        let active = match key.0 {
            Op::Param(p) => self.variables.get(p).copied().unwrap_or(false),
            Op::Carry { active, .. } => active,
            _ => key.1.iter().any(|a| self.active[a.index()]),
        };
        let scope = match key.0 {
            Op::Carry { lp, .. } => Some(lp),
            Op::Opaque(_) | Op::Local(_) => self.current_scope,
            Op::LoopOut { lp, .. } | Op::LoopAdjoint { lp, .. } => self.loops[lp].parent,
            _ => key
                .1
                .iter()
                .filter_map(|a| self.scope[a.index()])
                .max_by_key(|&l| self.loops[l].depth),
        };
        // An index computed by code (`y[i]`) may read the loop's index: it belongs to the loop
        // being read or differentiated.
        let indexed = match &key.0 {
            Op::Entry(r, c) | Op::Scatter(r, c) | Op::View(r, c) | Op::Embed(r, c) => {
                matches!(r, super::Index::Expr { .. }) || matches!(c, super::Index::Expr { .. })
            }
            _ => false,
        };
        // A node that reads values of two loops run in lockstep (a tangent loop's and its
        // primal's, in the tangent of an adjoint loop) belongs to the loop being built.
        let off_chain = self.current_scope.is_some_and(|c| {
            key.1
                .iter()
                .any(|a| self.scope[a.index()].is_some_and(|s| !self.within(Some(c), s)))
        });
        let scope = if off_chain { self.current_scope } else { scope };
        // What a tangent loop's body builds from its primal's values belongs to the tangent
        // loop: code run per direction runs it again, and the primal loop once.
        let scope = match self.current_scope {
            Some(c)
                if matches!(self.loops[c].kind, super::loops::LoopKind::Tangent(_))
                    && scope.is_some()
                    && scope == self.loops[c].within =>
            {
                Some(c)
            }
            _ => scope,
        };
        let scope = match (indexed, scope, self.current_scope) {
            (true, Some(a), Some(b)) => Some(if self.loops[b].depth > self.loops[a].depth {
                b
            } else {
                a
            }),
            (true, None, b) => b,
            (_, a, _) => a,
        };
        self.nodes.push(Node {
            op: key.0.clone(),
            args: key.1.clone(),
            ty,
        });
        self.spans.push(None);
        self.active.push(active);
        self.scope.push(scope);
        self.index.insert(key, id);
        id
    }

    pub fn get(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }
    pub fn op(&self, id: NodeId) -> &Op {
        &self.nodes[id.index()].op
    }
    pub fn args(&self, id: NodeId) -> &[NodeId] {
        &self.nodes[id.index()].args
    }
    pub fn ty(&self, id: NodeId) -> Ty {
        self.nodes[id.index()].ty
    }
    pub fn shape(&self, id: NodeId) -> Option<Shape> {
        self.ty(id).shape()
    }
    pub fn is_active(&self, id: NodeId) -> bool {
        self.active[id.index()]
    }
    pub fn is_primal(&self, id: NodeId) -> bool {
        id.index() < self.primal_len
    }
    pub fn set_span(&mut self, id: NodeId, span: Span) {
        let slot = &mut self.spans[id.index()];
        if slot.is_none() {
            *slot = Some(span);
        }
    }
    /// Settle the type of a leaf whose kind was unknown until its context told.
    pub fn set_leaf_ty(&mut self, id: NodeId, ty: Ty) {
        self.nodes[id.index()].ty = ty;
    }
    /// The innermost loop `id` belongs to.
    pub fn scope_of(&self, id: NodeId) -> Option<usize> {
        self.scope[id.index()]
    }

    /// Whether `scope` is loop `lp` or a loop inside it (along `Loop::within`).
    pub fn within(&self, scope: Option<usize>, lp: usize) -> bool {
        let mut s = scope;
        while let Some(l) = s {
            if l == lp {
                return true;
            }
            s = self.loops[l].within;
        }
        false
    }

    pub fn lit_value(&self, id: NodeId) -> Option<f64> {
        self.op(id).lit_value()
    }
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The name generated code uses for a leaf's value (a reference), if the node is a leaf
    /// that stands for user code.
    pub fn leaf_alias(&self, id: NodeId) -> Ident {
        match self.op(id) {
            Op::Param(i) => format_ident!("__mg_p{}", i),
            Op::Local(k) => self.locals[*k].alias.clone(),
            Op::Opaque(k) => self.opaque[*k].alias.clone(),
            Op::Carry { lp, index, .. } => format_ident!("__mg_c{}_{}", lp, index),
            _ => format_ident!("__mg_t{}", id.0),
        }
    }

    /// Code for a leaf's value, for use inside copied expressions (sizes, indices, casts).
    pub fn leaf_value_code(&self, id: NodeId) -> Option<TokenStream> {
        match self.op(id) {
            Op::Param(_) | Op::Local(_) | Op::Opaque(_) => {
                let alias = self.leaf_alias(id);
                Some(quote!((*#alias)))
            }
            _ => None,
        }
    }
}
