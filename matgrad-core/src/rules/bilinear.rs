//! Bilinear operations C = f(A, B), linear in each argument: each gives its product f, and the
//! tangent is the product rule d f(A, B) = f(dA, B) + f(A, dB) (`rules::tangent`); the adjoint
//! is f's transpose in each argument.

use super::vec::add;
use super::{shape_of, Batch, Bilinear, Jac, Site, Unsupported};
use crate::ir::{Graph, NodeId};

fn first(j: &[Option<NodeId>]) -> Option<NodeId> {
    j.first().copied().flatten()
}

fn second(j: &[Option<NodeId>]) -> Option<NodeId> {
    j.get(1).copied().flatten()
}

/// C = A B: dC = dA B + A dB  ⇒  Ā += C̄ Bᵀ, B̄ += Aᵀ C̄   (seed 000, MC 37);
/// vec(dA B + A dB) = (Bᵀ ⊗ I) vec(dA) + (I ⊗ A) vec(dB)
pub struct MatMul;
impl Bilinear for MatMul {
    fn product(&self, g: &mut Graph, _: &Site, x: NodeId, y: NodeId) -> Option<NodeId> {
        Some(g.matmul(x, y))
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let bt = g.transpose(s.b);
        let at = g.transpose(s.a);
        vec![(0, g.matmul(cbar, bt)), (1, g.matmul(at, cbar))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        let (a, b) = (s.a, s.b);
        let (sa, sb) = (shape_of(g, a), shape_of(g, b));
        let t1 = first(j).map(|j| {
            let bt = g.transpose(b);
            v.kron_identity(g, bt, sa.rows, j)
        });
        let t2 = second(j).map(|j| v.identity_kron(g, a, sb.cols, j));
        Ok(add(g, t1, t2))
    }
}

/// C = s A (s a scalar): dC = ds A + s dA  ⇒  s̄ += ⟨C̄, A⟩, Ā += s C̄
pub struct Scale;
impl Bilinear for Scale {
    fn product(&self, g: &mut Graph, _: &Site, x: NodeId, y: NodeId) -> Option<NodeId> {
        Some(g.scale(x, y))
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, g.dot(cbar, s.b)), (1, g.scale(s.a, cbar))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        let t1 = first(j).map(|j| v.outer(g, s.b, j));
        let t2 = second(j).map(|j| g.scale(s.a, j));
        Ok(add(g, t1, t2))
    }
}

/// C = A ⊙ B: dC = dA ⊙ B + A ⊙ dB  ⇒  Ā += C̄ ⊙ B, B̄ += C̄ ⊙ A   (seed 000, rule 5);
/// J_C = diag(vec B) J_A + diag(vec A) J_B
pub struct Mul;
impl Bilinear for Mul {
    fn product(&self, g: &mut Graph, _: &Site, x: NodeId, y: NodeId) -> Option<NodeId> {
        Some(g.mul(x, y))
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, g.mul(cbar, s.b)), (1, g.mul(cbar, s.a))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        let t1 = first(j).map(|j| v.row_scale(g, s.b, j));
        let t2 = second(j).map(|j| v.row_scale(g, s.a, j));
        Ok(add(g, t1, t2))
    }
}

/// C = A ⊗ B: dC = dA ⊗ B + A ⊗ dB  ⇒  Ā_ij += ⟨C̄ block (i, j), B⟩,
/// B̄ += Σ_ij A_ij C̄ block (i, j)
pub struct Kron;
impl Bilinear for Kron {
    fn product(&self, g: &mut Graph, s: &Site, x: NodeId, y: NodeId) -> Option<NodeId> {
        let shape = s.ty.shape()?;
        Some(g.kron(x, y, shape))
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let (sa, sb) = (shape_of(g, s.a), shape_of(g, s.b));
        vec![
            (0, g.kron_adj_left(cbar, s.b, sa)),
            (1, g.kron_adj_right(cbar, s.a, sb)),
        ]
    }
    fn jacobian(&self, _: &mut Batch, _: &mut Graph, _: &Site, _: &[Option<NodeId>]) -> Jac {
        Err(Unsupported)
    }
}

/// c = a × b (3-vectors): dc = da × b + a × db, and ⟨c̄, da × b⟩ = ⟨da, b × c̄⟩ (the scalar
/// triple product is cyclic)  ⇒  ā += b × c̄, b̄ += c̄ × a
pub struct Cross;
impl Bilinear for Cross {
    fn product(&self, g: &mut Graph, _: &Site, x: NodeId, y: NodeId) -> Option<NodeId> {
        Some(g.cross(x, y))
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, g.cross(s.b, cbar)), (1, g.cross(cbar, s.a))]
    }
    fn jacobian(&self, _: &mut Batch, _: &mut Graph, _: &Site, _: &[Option<NodeId>]) -> Jac {
        Err(Unsupported)
    }
}

/// C = diag(d) A: dC = diag(dd) A + diag(d) dA  ⇒  d̄ += (C̄ ⊙ A) 1, Ā += diag(d) C̄
pub struct RowScale;
impl Bilinear for RowScale {
    fn product(&self, g: &mut Graph, _: &Site, x: NodeId, y: NodeId) -> Option<NodeId> {
        Some(g.row_scale(x, y))
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let ca = g.mul(cbar, s.b);
        vec![(0, g.column_sum(ca)), (1, g.row_scale(s.a, cbar))]
    }
    fn jacobian(&self, _: &mut Batch, _: &mut Graph, _: &Site, _: &[Option<NodeId>]) -> Jac {
        Err(Unsupported)
    }
}

/// c = ⟨A, B⟩: dc = ⟨dA, B⟩ + ⟨A, dB⟩  ⇒  Ā += c̄ B, B̄ += c̄ A   (seed 004, inner product);
/// J_c = vec(A)ᵀ J_B + vec(B)ᵀ J_A
pub struct Dot;
impl Bilinear for Dot {
    fn product(&self, g: &mut Graph, _: &Site, x: NodeId, y: NodeId) -> Option<NodeId> {
        Some(g.dot(x, y))
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, g.times(cbar, s.b)), (1, g.times(cbar, s.a))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        let t1 = second(j).map(|j| v.inner(g, s.a, j));
        let t2 = first(j).map(|j| v.inner(g, s.b, j));
        Ok(add(g, t1, t2))
    }
}

/// The adjoints of a Kronecker product, themselves bilinear: X = kron_adj_left(C̄, B)
/// (X_ij = ⟨C̄ block (i, j), B⟩) has the adjoint map C̄ ↦ X̄ ⊗ B, and in B the right adjoint
/// B̄ += kron_adj_right(C̄, X̄); Y = kron_adj_right(C̄, A) (Y = Σ_ij A_ij C̄ block (i, j)) has
/// C̄ ↦ A ⊗ Ȳ, and in A, A ↦ kron_adj_left(C̄, Ȳ).
pub struct KronAdjoint {
    pub left: bool,
}
impl Bilinear for KronAdjoint {
    fn product(&self, g: &mut Graph, s: &Site, x: NodeId, y: NodeId) -> Option<NodeId> {
        let shape = s.ty.shape()?;
        Some(if self.left {
            g.kron_adj_left(x, y, shape)
        } else {
            g.kron_adj_right(x, y, shape)
        })
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let (a, b) = (s.a, s.b);
        let (sc, sb) = (shape_of(g, a), shape_of(g, b));
        if self.left {
            vec![(0, g.kron(cbar, b, sc)), (1, g.kron_adj_right(a, cbar, sb))]
        } else {
            vec![(0, g.kron(b, cbar, sc)), (1, g.kron_adj_left(a, cbar, sb))]
        }
    }
    fn jacobian(&self, _: &mut Batch, _: &mut Graph, _: &Site, _: &[Option<NodeId>]) -> Jac {
        Err(Unsupported)
    }
}
