//! What the pipeline hands to expansion: the function, its graph and its derivatives, one type
//! per kind of result, and the solver plans that validation accepted. Every field is filled:
//! nothing here is waiting to be computed, so expansion matches on the kinds and cannot fail.

use crate::attr::Options;
use crate::front::{Body, Function};
use crate::ir::NodeId;
use crate::valid::Solvers;

/// A function, its derivatives and the checked plans of its options.
pub struct Derivation {
    pub options: Options,
    pub function: Function,
    pub body: Body,
    pub derived: Derived,
    /// Each derivative's derivation, step by step (`explain`).
    pub derivations: Vec<crate::explain::Explained>,
    /// What the solver options (`minimize`, `argmin = Name`, `least_squares = Name`) generate,
    /// as validation accepted it.
    pub solvers: Solvers,
}

/// The derivatives, by the attribute that asked for them.
pub enum Derived {
    /// `#[gradient]`: a scalar function's gradient, with its second derivatives if asked for.
    Gradient(Gradient),
    /// `#[jacobian]`: a vector or matrix function's first derivatives.
    Jacobian(Jacobian),
}

/// ∂f/∂x for each variable of a scalar function.
pub struct Gradient {
    /// In `wrt` order; `None` where f does not depend on the variable.
    pub nodes: Vec<Option<NodeId>>,
    /// In textbook form, one per variable (`2 xᵀ(x w − y)`).
    pub formulas: Vec<String>,
    /// With `hessian` (or `minimize`, which reads it): the Hessian applied to a direction.
    pub second: Option<Second>,
}

/// A derivative that is linear in an extra input (a direction or a cotangent), as graph nodes:
/// generated code evaluates it once for a given input, or once per basis vector to fill a
/// matrix.
pub struct Linear {
    /// The input leaves (parameters the generated code binds), one per variable or one in all.
    pub inputs: Vec<NodeId>,
    /// The outputs, linear in the inputs; `None` where an output is zero.
    pub outputs: Vec<Option<NodeId>>,
    /// Which nodes depend on the inputs (and so must be recomputed per basis vector).
    pub variant: Vec<bool>,
}

/// Second derivatives: the Hessian-vector product, forward-over-reverse.
pub struct Second {
    /// Directions V (one per variable) ↦ (H V) per variable.
    pub hvp: Linear,
    /// The name of the direction parameter of `_hvp`.
    pub dir_name: String,
    /// `(H v)` per variable, in textbook form.
    pub hvp_formulas: Vec<String>,
    /// The Hessian as a matrix formula, where it has a closed form matgrad can print.
    pub hessian_formula: Option<String>,
    /// The Hessian as one node (the whole Jacobian of the gradient, `batched.rs`), for one
    /// vector or matrix variable where every operation on the path has a whole-Jacobian rule:
    /// `_hessian` computes it directly (2XᵀX is one product) instead of one HVP per column.
    pub whole: Option<NodeId>,
}

/// First derivatives of a function with a vector or matrix value.
pub struct Jacobian {
    /// Per variable: the direction dX ↦ dF (forward sweeps, one per entry of X).
    pub forward: Vec<Linear>,
    /// The cotangent F̄ ↦ X̄ for every variable (reverse sweeps, one per entry of F).
    pub reverse: Linear,
    /// Per variable: the Jacobian in closed form (numerator layout), where matgrad can print it.
    pub formulas: Vec<String>,
    /// Per variable: the differential dF in terms of dX.
    pub differentials: Vec<String>,
    /// Per variable, the whole Jacobian as one node (`batched.rs`), where every operation on
    /// the path has a whole-Jacobian rule; `None` if the sweeps fill it.
    pub batched: Option<Vec<Option<NodeId>>>,
}

impl Derivation {
    /// The names of the variables, in `wrt` order.
    pub fn variable_names(&self) -> Vec<String> {
        self.function.variable_names()
    }

    /// The gradient, for a `#[gradient]` function.
    pub fn gradient(&self) -> Option<&Gradient> {
        match &self.derived {
            Derived::Gradient(g) => Some(g),
            Derived::Jacobian(_) => None,
        }
    }

    /// The Jacobian, for a `#[jacobian]` function.
    pub fn jacobian(&self) -> Option<&Jacobian> {
        match &self.derived {
            Derived::Jacobian(j) => Some(j),
            Derived::Gradient(_) => None,
        }
    }
}
