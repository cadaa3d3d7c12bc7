//! Loops on the active path: `for PAT in ITER { .. }` whose body updates carried state.
//!
//! A loop is one node per carried value (`Op::LoopOut`) whose arguments are the carries'
//! initial values and the outer values the body reads (its captures); its body is a part of the
//! same graph, the nodes that depend on the loop's own leaves (`Op::Carry`, the carries at the
//! start of an iteration, and the constants the body computes from the loop's index). Each
//! node records the innermost loop it belongs to (`Graph::scope`): emission writes a loop's
//! nodes inside its `for`, and everything else once, before it.
//!
//! The derivative of a loop is derived from its body once, not once per iteration (JAX's
//! `scan`): reverse accumulation builds an adjoint loop (`LoopKind::Adjoint`) whose body maps
//! the carries' adjoints after an iteration to those before it, and adds each iteration's
//! contribution to the captures' adjoints; generated code runs it backwards over a tape of the
//! values the adjoint body reads, stored by the forward loop.

use proc_macro2::{Ident, TokenStream};

use super::{Graph, NodeId};

/// The loop header as the user wrote it: `for #pat in #iter`.
#[derive(Clone, Debug)]
pub struct Header {
    pub pat: TokenStream,
    pub iter: TokenStream,
    /// The names the pattern binds (the loop index), stored on the tape so that the backward
    /// pass sees the index of each iteration.
    pub bound: Vec<Ident>,
    /// `t ∈ 0..n`, for formulas.
    pub text: String,
    /// The index as formulas name it (`t`), or `i` if the pattern binds no single name.
    pub index: String,
}

/// A value carried from one iteration to the next (a `let mut` the body assigns).
#[derive(Clone, Debug)]
pub struct Carry {
    pub name: String,
    /// The `Op::Carry` leaf: the value at the start of an iteration.
    pub param: NodeId,
    /// The value before the loop.
    pub init: NodeId,
    /// The value at the end of an iteration.
    pub out: NodeId,
}

/// A constant statement of a loop's body, emitted as written inside the loop.
#[derive(Clone, Debug)]
pub struct Statement {
    pub tokens: TokenStream,
    /// For a `let` matgrad refers to: the alias bound to a reference to it, and its name.
    pub alias: Option<(Ident, Ident)>,
    pub by_ref: bool,
    /// Whether it is a `let` (replayed by the backward pass, which needs the body's constants;
    /// other statements, such as `if c { continue; }`, run in the forward pass only).
    pub is_let: bool,
}

#[derive(Clone, Debug)]
pub enum LoopKind {
    /// A loop of the user's body.
    Primal,
    /// The adjoint of loop `forward`: runs its iterations backwards, carrying the adjoints of
    /// its carries (this loop's carries, seeded by the adjoints of the forward loop's results).
    Adjoint(Adjoint),
    /// The tangent of loop `primal` (forward mode): runs in the same iterations as `primal`,
    /// in the same `for` (so that the primal values it reads are there), carrying the
    /// differentials of `primal`'s carries.
    Tangent(Tangent),
}

#[derive(Clone, Debug)]
pub struct Tangent {
    pub primal: usize,
    /// The differential of each node of `primal`'s body that has one.
    pub of: Vec<(NodeId, NodeId)>,
    /// For the tangent of an adjoint loop: the differential of each contribution.
    pub contributions: Vec<Option<NodeId>>,
    /// For the tangent of an adjoint loop: the tangent loop of its forward loop, whose values
    /// (the differentials of the residuals) the tape also holds.
    pub forward: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct Adjoint {
    pub forward: usize,
    /// Per argument of the forward loop that is a capture (in the order of `Loop::args` after
    /// the inits): the contribution of one iteration to its adjoint, if it has one.
    pub contributions: Vec<Option<NodeId>>,
}

/// One loop.
#[derive(Clone, Debug)]
pub struct Loop {
    pub header: Header,
    /// The loop whose body this loop's code is written in (`None`: the function's top level).
    pub parent: Option<usize>,
    /// The loop whose nodes this loop's body may read as its own: its parent for a primal loop,
    /// the forward loop for an adjoint loop (whose body reads the forward body's values,
    /// restored from the tape).
    pub within: Option<usize>,
    /// Nesting depth along `within`: a node belongs to the deepest loop among its arguments'.
    pub depth: usize,
    pub carries: Vec<Carry>,
    /// The arguments of the loop's `Op::LoopOut` nodes: the carries' initial values, then the
    /// captures (outer nodes on the active path that the body reads).
    pub args: Vec<NodeId>,
    /// The `Op::LoopOut` node of each carry.
    pub outs: Vec<NodeId>,
    /// The constant statements of the body, in order.
    pub stmts: Vec<Statement>,
    /// Conditions (1 or 0, constants of the iteration) on which the loop ends after this
    /// iteration: the `break`s that follow an update of a carried value.
    pub breaks: Vec<NodeId>,
    pub kind: LoopKind,
}

impl Loop {
    pub fn captures(&self) -> &[NodeId] {
        &self.args[self.carries.len()..]
    }

    /// The per-iteration values the loop sums (an adjoint loop's contributions to the
    /// captures' adjoints, and their differentials in a tangent loop).
    pub fn contributions(&self) -> &[Option<NodeId>] {
        match &self.kind {
            LoopKind::Primal => &[],
            LoopKind::Adjoint(a) => &a.contributions,
            LoopKind::Tangent(t) => &t.contributions,
        }
    }
}

impl Graph {
    /// A new loop, written in the loop being read or built (`current_scope`: a loop of the body,
    /// or the adjoint or tangent loop of one), whose body may read the values of `within` (its
    /// parent for a primal loop, the loop it differentiates otherwise). Its carries, arguments
    /// and results are filled in once its body is built.
    pub fn push_loop(&mut self, header: Header, within: Option<usize>, kind: LoopKind) -> usize {
        let depth = within.map_or(0, |w| self.loops[w].depth) + 1;
        self.loops.push(Loop {
            header,
            parent: self.current_scope,
            within,
            depth,
            carries: Vec::new(),
            args: Vec::new(),
            outs: Vec::new(),
            stmts: Vec::new(),
            breaks: Vec::new(),
            kind,
        });
        self.loops.len() - 1
    }
}
