//! The derivative rules: one home per operation, grouped by kind the way JAX does it.
//!
//! For a scalar result f, the adjoint of a node C is C̄ = ∂f/∂C (the shape of C), so that
//! df = ⟨C̄, dC⟩ = tr(C̄ᵀ dC). An operation's rules are, side by side in one `impl`:
//! - the tangent: dC in terms of the arguments' differentials (seed 000's rules read left to
//!   right, applied by `grad::forward`);
//! - the adjoint: C̄'s contribution Ā += … to each argument, obtained by writing dC in terms of
//!   dA and moving dA to the right of the trace (tr(AB) = tr(BA), tr(Aᵀ) = tr(A),
//!   tr((A⊙B)ᵀC) = tr(Aᵀ(B⊙C))), applied by `grad::reverse`;
//! - the whole Jacobian: J_C = ∂vec(C)/∂vec(x)ᵀ from the arguments' Jacobians, by the vec rules
//!   (vec(A dX B) = (Bᵀ ⊗ A) vec(dX), vec(dXᵀ) = K vec(dX)), applied by `batched::jacobian`;
//!   `Err(Unsupported)` where an operation has no such rule, and sweeps fill the Jacobian.
//!
//! The kinds ([`Rule`]): a [`Linear`] operation is declared once with its transpose, and its
//! tangent is itself; a [`Bilinear`] one gives its product, and the tangent is the product rule
//! d f(A, B) = f(dA, B) + f(A, dB); an [`Entrywise`] function gives its derivative f′, and
//! f′ ⊙ dA, C̄ ⊙ f′ and diag(f′) J follow; any other [`Nonlinear`] operation gives its three
//! rules. [`of`] maps every operation to its rules in one exhaustive `match`: an operation
//! without rules does not compile. Zero cotangents and the summing of contributions are the
//! drivers' (`grad.rs`, `batched.rs`), never a rule's.
//!
//! References "MC" are equation numbers of The Matrix Cookbook (Petersen & Pedersen, 2012).

mod bilinear;
mod entrywise;
mod linear;
pub mod loops;
mod nonlinear;
mod vec;

pub use entrywise::{derivative, powi_derivative};
pub use nonlinear::{kink, powf_derivative};
pub use vec::{Batch, Jac, Unsupported};

use crate::ir::{Func, Graph, NodeId, Op};
use crate::shape::{Dim, Shape, Ty};

/// A node and its arguments, as its rules see them.
pub struct Site {
    /// The node C.
    pub c: NodeId,
    pub args: Vec<NodeId>,
    /// The first and second arguments (C itself where there are none).
    pub a: NodeId,
    pub b: NodeId,
    /// C's type.
    pub ty: Ty,
}

impl Site {
    fn of(g: &Graph, c: NodeId) -> Site {
        let args = g.args(c).to_vec();
        Site {
            c,
            a: args.first().copied().unwrap_or(c),
            b: args.get(1).copied().unwrap_or(c),
            args,
            ty: g.ty(c),
        }
    }
}

/// A linear operation C = L(A, …): dC = L(dA, …), and the adjoint is the transpose Lᵀ C̄.
pub trait Linear {
    /// L applied to the arguments' differentials (`None` where one is zero).
    fn apply(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId>;
    /// Lᵀ C̄: each argument's contribution, as `(argument position, contribution)`.
    fn transpose(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)>;
    /// J_C from the arguments' Jacobians: L on vec(·), as a structured matrix.
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac;
}

/// A bilinear operation C = f(A, B): d f(A, B) = f(dA, B) + f(A, dB).
pub trait Bilinear {
    /// f(x, y) (`None` where the node's shape, which f needs, is unknown).
    fn product(&self, g: &mut Graph, s: &Site, x: NodeId, y: NodeId) -> Option<NodeId>;
    /// Ā += f's left transpose applied to C̄, B̄ += its right transpose.
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)>;
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac;
}

/// A function applied entry by entry, C = f(A): dC = f′(A) ⊙ dA.
pub trait Entrywise {
    /// f′(A), reusing C = f(A) where the derivative is a function of it.
    fn derivative(&self, g: &mut Graph, s: &Site) -> NodeId;
}

/// Any other operation: its three rules, from its differential.
pub trait Nonlinear {
    fn tangent(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId>;
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)>;
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac;
}

/// An operation's rules, by kind.
pub enum Rule {
    /// A leaf: nothing to pass on.
    Leaf,
    /// Piecewise constant (an indicator, an arg-max): its derivative is zero.
    Constant,
    Linear(Box<dyn Linear>),
    Bilinear(Box<dyn Bilinear>),
    Entrywise(Box<dyn Entrywise>),
    Nonlinear(Box<dyn Nonlinear>),
    /// A loop's result (`rules/loops.rs`): its rules need all of the loop's results at once,
    /// so the drivers apply them to the loop as a whole.
    Loop,
}

/// The rules of every operation: the one list to extend when an operation is added.
pub fn of(op: &Op) -> Rule {
    use bilinear as b;
    use linear as l;
    use nonlinear as n;
    match op {
        Op::Param(_)
        | Op::Local(_)
        | Op::Opaque(_)
        | Op::Lit(_)
        | Op::Identity
        | Op::Ones
        | Op::Zeros
        | Op::Commutation { .. } => Rule::Leaf,

        Op::Neg => Rule::Linear(Box::new(l::Neg)),
        Op::Add => Rule::Linear(Box::new(l::Add)),
        Op::Sub => Rule::Linear(Box::new(l::Sub)),
        Op::Transpose => Rule::Linear(Box::new(l::Transpose)),
        Op::Trace => Rule::Linear(Box::new(l::Trace)),
        Op::Sum => Rule::Linear(Box::new(l::Sum)),
        Op::Entry(i, j) => Rule::Linear(Box::new(l::Entry(i.clone(), j.clone()))),
        Op::Scatter(i, j) => Rule::Linear(Box::new(l::Scatter(i.clone(), j.clone()))),
        Op::Triangle(part) => Rule::Linear(Box::new(l::Triangle(*part))),
        Op::Diagonal => Rule::Linear(Box::new(l::Diagonal)),
        Op::FromDiagonal => Rule::Linear(Box::new(l::FromDiagonal)),
        Op::RowSum => Rule::Linear(Box::new(l::RowSum)),
        Op::ColumnSum => Rule::Linear(Box::new(l::ColumnSum)),
        Op::RepeatRow => Rule::Linear(Box::new(l::RepeatRow)),
        Op::RepeatColumn => Rule::Linear(Box::new(l::RepeatColumn)),
        Op::View(i, j) => Rule::Linear(Box::new(l::View(i.clone(), j.clone()))),
        Op::Embed(i, j) => Rule::Linear(Box::new(l::Embed(i.clone(), j.clone()))),
        Op::Reshape => Rule::Linear(Box::new(l::Reshape)),
        Op::AddScalar => Rule::Linear(Box::new(l::AddScalar)),
        Op::Stack => Rule::Linear(Box::new(l::Stack)),
        Op::Select => Rule::Linear(Box::new(l::Select)),
        Op::KindProduct { transposed } => Rule::Linear(Box::new(l::KindProduct {
            transposed: *transposed,
        })),

        Op::MatMul => Rule::Bilinear(Box::new(b::MatMul)),
        Op::Scale => Rule::Bilinear(Box::new(b::Scale)),
        Op::Mul => Rule::Bilinear(Box::new(b::Mul)),
        Op::Kron => Rule::Bilinear(Box::new(b::Kron)),
        Op::Cross => Rule::Bilinear(Box::new(b::Cross)),
        Op::RowScale => Rule::Bilinear(Box::new(b::RowScale)),
        Op::Dot => Rule::Bilinear(Box::new(b::Dot)),
        Op::KronAdjLeft => Rule::Bilinear(Box::new(b::KronAdjoint { left: true })),
        Op::KronAdjRight => Rule::Bilinear(Box::new(b::KronAdjoint { left: false })),

        Op::Elem(Func::Ln) => Rule::Nonlinear(Box::new(n::Ln)),
        Op::Elem(f) => Rule::Entrywise(Box::new(entrywise::Elem(*f))),
        Op::Powi(k) => Rule::Entrywise(Box::new(entrywise::Powi(*k))),
        Op::Div => Rule::Nonlinear(Box::new(n::Div)),
        Op::Inverse => Rule::Nonlinear(Box::new(n::Inverse)),
        Op::Det => Rule::Nonlinear(Box::new(n::Det)),
        Op::NormSq => Rule::Nonlinear(Box::new(n::NormSq)),
        Op::Norm => Rule::Nonlinear(Box::new(n::Norm)),
        Op::Powf => Rule::Nonlinear(Box::new(n::Powf)),
        Op::Max => Rule::Nonlinear(Box::new(n::Extreme { max: true })),
        Op::Min => Rule::Nonlinear(Box::new(n::Extreme { max: false })),
        Op::TriSolve { upper, transpose } => Rule::Nonlinear(Box::new(n::TriSolve {
            upper: *upper,
            transpose: *transpose,
        })),
        Op::Cholesky => Rule::Nonlinear(Box::new(n::Cholesky)),
        Op::Extremum { max } => Rule::Nonlinear(Box::new(n::Extremum { max: *max })),
        Op::MatPow(k) => Rule::Nonlinear(Box::new(n::MatPow(*k))),
        Op::Above | Op::ArgExtremum { .. } | Op::Compare(_) => Rule::Constant,
        Op::Carry { .. } => Rule::Leaf,
        Op::LoopOut { .. } | Op::LoopAdjoint { .. } => Rule::Loop,
    }
}

/// The contributions of node `c` (whose adjoint is `cbar`) to the adjoints of its arguments,
/// as `(argument position, contribution)`.
pub fn adjoint(g: &mut Graph, c: NodeId, cbar: NodeId) -> Vec<(usize, NodeId)> {
    let s = Site::of(g, c);
    match of(g.op(c)) {
        Rule::Leaf | Rule::Constant | Rule::Loop => vec![],
        Rule::Linear(r) => r.transpose(g, &s, cbar),
        Rule::Bilinear(r) => r.adjoint(g, &s, cbar),
        // d f(A) = f′(A) ⊙ dA  ⇒  Ā += C̄ ⊙ f′(A)
        Rule::Entrywise(r) => {
            let fprime = r.derivative(g, &s);
            vec![(0, g.mul(cbar, fprime))]
        }
        Rule::Nonlinear(r) => r.adjoint(g, &s, cbar),
    }
}

/// The forward differential of node `c`: dC as an expression linear in the differentials of its
/// arguments (`None` where an argument's differential is zero), or `None` if dC is zero.
pub fn tangent(g: &mut Graph, c: NodeId, d: &[Option<NodeId>]) -> Option<NodeId> {
    let s = Site::of(g, c);
    let da = d.first().copied().flatten();
    let out = match of(g.op(c)) {
        Rule::Leaf | Rule::Constant | Rule::Loop => None,
        Rule::Linear(r) => r.apply(g, &s, d),
        Rule::Bilinear(r) => {
            let db = d.get(1).copied().flatten();
            let t1 = match da {
                Some(x) => Some(r.product(g, &s, x, s.b)?),
                None => None,
            };
            let t2 = match db {
                Some(y) => Some(r.product(g, &s, s.a, y)?),
                None => None,
            };
            match (t1, t2) {
                (Some(x), Some(y)) => Some(g.add(x, y)),
                (x, y) => x.or(y),
            }
        }
        // d f(A) = f′(A) ⊙ dA
        Rule::Entrywise(r) => da.map(|x| {
            let fp = r.derivative(g, &s);
            g.mul(fp, x)
        }),
        Rule::Nonlinear(r) => r.tangent(g, &s, d),
    };
    out.filter(|&n| !g.is_zero(n))
}

/// J_C from the Jacobians `j` of C's arguments (`None` where one does not depend on x).
pub fn jacobian(v: &mut Batch, g: &mut Graph, c: NodeId, j: &[Option<NodeId>]) -> Jac {
    let s = Site::of(g, c);
    match of(g.op(c)) {
        Rule::Leaf | Rule::Constant => Ok(None),
        Rule::Loop => Err(Unsupported),
        Rule::Linear(r) => r.jacobian(v, g, &s, j),
        Rule::Bilinear(r) => r.jacobian(v, g, &s, j),
        // diag(f′(A)) J_A, a row scaling
        Rule::Entrywise(r) => Ok(j[0].map(|ja| {
            let fp = r.derivative(g, &s);
            v.row_scale(g, fp, ja)
        })),
        Rule::Nonlinear(r) => r.jacobian(v, g, &s, j),
    }
}

/// The shape of a matrix node (every structural operation's argument is one).
fn shape_of(g: &Graph, a: NodeId) -> Shape {
    g.shape(a)
        .unwrap_or(Shape::new(Dim::Fixed(1), Dim::Fixed(1)))
}

/// Σ of the terms that are not zero.
fn sum(g: &mut Graph, terms: Vec<Option<NodeId>>) -> Option<NodeId> {
    terms.into_iter().flatten().reduce(|x, y| g.add(x, y))
}
