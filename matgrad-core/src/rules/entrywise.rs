//! Functions applied entry by entry, C = f(A): each gives its derivative f′, and the rules
//! follow (`rules::{adjoint, tangent, jacobian}`): dC = f′(A) ⊙ dA, Ā += C̄ ⊙ f′(A),
//! J_C = diag(f′(A)) J_A. The table of scalar derivatives is [`derivative`].

use super::{Entrywise, Site};
use crate::ir::{Func, Graph, NodeId};

/// C = f(A) for a scalar function f (`exp`, `tanh`, ...), entrywise
pub struct Elem(pub Func);
impl Entrywise for Elem {
    fn derivative(&self, g: &mut Graph, s: &Site) -> NodeId {
        derivative(g, self.0, s.a, s.c)
    }
}

/// C = A^k entrywise: d(A^k) = k A^(k−1) ⊙ dA
pub struct Powi(pub i32);
impl Entrywise for Powi {
    fn derivative(&self, g: &mut Graph, s: &Site) -> NodeId {
        powi_derivative(g, s.a, self.0)
    }
}

/// k aᵏ⁻¹, the derivative of aᵏ (entrywise).
pub fn powi_derivative(g: &mut Graph, a: NodeId, k: i32) -> NodeId {
    let p = g.powi(a, k - 1);
    let kk = g.lit(f64::from(k));
    g.times(kk, p)
}

/// f′(A) for an entrywise function, reusing C = f(A) where the derivative is a function of it.
pub fn derivative(g: &mut Graph, f: Func, a: NodeId, c: NodeId) -> NodeId {
    let ty = g.ty(a);
    match f {
        // exp′ = exp
        Func::Exp => c,
        // ln′(a) = 1/a
        Func::Ln => g.elem(Func::Recip, a),
        // ln_1p′(a) = 1/(1 + a)
        Func::Ln1p => {
            let one = g.lit(1.0);
            let shifted = g.add_scalar(a, one);
            g.elem(Func::Recip, shifted)
        }
        // sqrt′(a) = 1/(2 sqrt(a))
        Func::Sqrt => {
            let half = g.lit(0.5);
            let r = g.elem(Func::Recip, c);
            g.times(half, r)
        }
        // sin′ = cos, cos′ = −sin
        Func::Sin => g.elem(Func::Cos, a),
        Func::Cos => {
            let s = g.elem(Func::Sin, a);
            g.neg(s)
        }
        // tanh′(a) = 1 − tanh²(a)
        Func::Tanh => {
            let sq = g.powi(c, 2);
            let neg = g.neg(sq);
            let one = g.lit(1.0);
            g.add_scalar(neg, one)
        }
        // abs′(a) = sign(a): the subgradient, 0 at 0
        Func::Abs => g.elem(Func::Sign, a),
        // sign′ = signum′ = 0 (almost everywhere)
        Func::Sign | Func::Signum => g.zero(ty),
        // (eᵛ − 1)′ = eᵛ
        Func::ExpM1 => g.elem(Func::Exp, a),
        // log₁₀′(a) = 1/(a ln 10), log₂′(a) = 1/(a ln 2)
        Func::Log10 | Func::Log2 => {
            let base = if f == Func::Log10 {
                std::f64::consts::LN_10
            } else {
                std::f64::consts::LN_2
            };
            let k = g.lit(1.0 / base);
            let r = g.elem(Func::Recip, a);
            g.times(k, r)
        }
        // softplus′ = σ
        Func::Softplus => g.elem(Func::Sigmoid, a),
        // σ′ = σ (1 − σ)
        Func::Sigmoid => {
            let one = g.lit(1.0);
            let neg = g.neg(c);
            let rest = g.add_scalar(neg, one);
            g.mul(c, rest)
        }
        // (1/a)′ = −1/a² = −C ⊙ C
        Func::Recip => {
            let sq = g.powi(c, 2);
            g.neg(sq)
        }
    }
}
