//! Nonlinear operations: each gives its three rules from its differential, reusing the forward
//! value C (`ans` in JAX) where the derivative is a function of it: d(A⁻¹) = −C dA C,
//! d det(A) = C tr(A⁻¹ dA).

use super::vec::add;
use super::{shape_of, sum, Batch, Jac, Nonlinear, Site, Unsupported};
use crate::ir::{Func, Graph, NodeId, Part};
use crate::shape::Dim;

fn first(d: &[Option<NodeId>]) -> Option<NodeId> {
    d.first().copied().flatten()
}

fn second(d: &[Option<NodeId>]) -> Option<NodeId> {
    d.get(1).copied().flatten()
}

/// C = ln(A) entrywise: dC = dA ⊘ A  ⇒  Ā += C̄ ⊘ A (a division, not a product with 1/A)
pub struct Ln;
impl Nonlinear for Ln {
    fn tangent(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| g.div(x, s.a))
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, g.div(cbar, s.a))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        Ok(first(j).map(|j| {
            let fp = super::derivative(g, Func::Ln, s.a, s.c);
            v.row_scale(g, fp, j)
        }))
    }
}

/// C = A ⊘ B: dC = dA ⊘ B − C ⊙ dB ⊘ B  ⇒  Ā += C̄ ⊘ B, B̄ += −C̄ ⊙ C ⊘ B (for a matrix over a
/// scalar s: Ā += C̄ / s, s̄ += −⟨C̄, C⟩ / s); J_C = diag(1 ⊘ B) J_A − diag(C ⊘ B) J_B
pub struct Div;
impl Nonlinear for Div {
    fn tangent(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        let (b, c) = (s.b, s.c);
        let t1 = first(d).map(|x| g.div(x, b));
        let t2 = second(d).map(|y| {
            let cy = g.times(c, y);
            let q = g.div(cy, b);
            g.neg(q)
        });
        sum(g, vec![t1, t2])
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let (b, c) = (s.b, s.c);
        let da = g.div(cbar, b);
        let cc = if g.ty(b).is_matrix() {
            g.mul(cbar, c)
        } else {
            g.dot(cbar, c)
        };
        let q = g.div(cc, b);
        vec![(0, da), (1, g.neg(q))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        let (b, c) = (s.b, s.c);
        let t1 = first(j).map(|j| {
            if g.ty(b).is_matrix() {
                let r = g.elem(Func::Recip, b);
                v.row_scale(g, r, j)
            } else {
                g.div(j, b)
            }
        });
        let t2 = second(j).map(|j| {
            let q = g.div(c, b);
            let t = if g.ty(b).is_matrix() {
                v.row_scale(g, q, j)
            } else {
                v.outer(g, q, j)
            };
            g.neg(t)
        });
        Ok(add(g, t1, t2))
    }
}

/// C = A⁻¹: dC = −A⁻¹ dA A⁻¹  ⇒  Ā += −Cᵀ C̄ Cᵀ   (seed 000, rule 7; MC 59);
/// J_C = −(Cᵀ ⊗ C) J_A
pub struct Inverse;
impl Nonlinear for Inverse {
    fn tangent(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        let c = s.c;
        first(d).map(|x| {
            let left = g.matmul(c, x);
            let p = g.matmul(left, c);
            g.neg(p)
        })
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let ct = g.transpose(s.c);
        let left = g.matmul(ct, cbar);
        let prod = g.matmul(left, ct);
        vec![(0, g.neg(prod))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        let c = s.c;
        Ok(first(j).map(|j| {
            let sc = shape_of(g, c);
            let left = v.identity_kron(g, c, sc.cols, j);
            let ct = g.transpose(c);
            let both = v.kron_identity(g, ct, sc.rows, left);
            g.neg(both)
        }))
    }
}

/// c = det(A): dc = det(A) tr(A⁻¹ dA) = c ⟨A⁻ᵀ, dA⟩  ⇒  Ā += c̄ c A⁻ᵀ   (seed 000, rule 8;
/// MC 49); J_c = c vec(A⁻ᵀ)ᵀ J_A
pub struct Det;
impl Nonlinear for Det {
    fn tangent(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        let (a, c) = (s.a, s.c);
        first(d).map(|x| {
            let inv = g.inverse(a);
            let inv_t = g.transpose(inv);
            let t = g.dot(inv_t, x);
            g.mul(c, t)
        })
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let inv = g.inverse(s.a);
        let inv_t = g.transpose(inv);
        let factor = g.mul(cbar, s.c);
        vec![(0, g.scale(factor, inv_t))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        let (a, c) = (s.a, s.c);
        Ok(first(j).map(|j| {
            let inv = g.inverse(a);
            let inv_t = g.transpose(inv);
            let t = v.inner(g, inv_t, j);
            g.scale(c, t)
        }))
    }
}

/// c = ‖A‖² (Frobenius): dc = 2⟨A, dA⟩  ⇒  Ā += 2 c̄ A
pub struct NormSq;
impl Nonlinear for NormSq {
    fn tangent(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| {
            let two = g.lit(2.0);
            let t = g.dot(s.a, x);
            g.mul(two, t)
        })
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let two = g.lit(2.0);
        let k = g.mul(two, cbar);
        vec![(0, g.times(k, s.a))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        Ok(first(j).map(|j| {
            let t = v.inner(g, s.a, j);
            let two = g.lit(2.0);
            g.scale(two, t)
        }))
    }
}

/// c = ‖A‖ (Frobenius): dc = ⟨A, dA⟩ / ‖A‖  ⇒  Ā += (c̄ / c) A
pub struct Norm;
impl Nonlinear for Norm {
    fn tangent(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| {
            let t = g.dot(s.a, x);
            g.div(t, s.c)
        })
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let k = g.div(cbar, s.c);
        vec![(0, g.times(k, s.a))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        Ok(first(j).map(|j| {
            let t = v.inner(g, s.a, j);
            g.div(t, s.c)
        }))
    }
}

/// C = A^s entrywise, s a scalar: dC = s A^(s−1) ⊙ dA + C ⊙ ln(A) ds  ⇒
/// Ā += C̄ ⊙ s A^(s−1), s̄ += ⟨C̄, C ⊙ ln A⟩
pub struct Powf;
impl Nonlinear for Powf {
    fn tangent(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        let (a, b, c) = (s.a, s.b, s.c);
        let t1 = first(d).map(|x| {
            let fp = powf_derivative(g, a, b);
            g.mul(fp, x)
        });
        let t2 = second(d).map(|y| {
            let ln = g.elem(Func::Ln, a);
            let cl = g.mul(c, ln);
            g.times(y, cl)
        });
        sum(g, vec![t1, t2])
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let (a, b, c) = (s.a, s.b, s.c);
        let fprime = powf_derivative(g, a, b);
        let ln = g.elem(Func::Ln, a);
        let cl = g.mul(c, ln);
        vec![(0, g.mul(cbar, fprime)), (1, g.dot(cbar, cl))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        let (a, b, c) = (s.a, s.b, s.c);
        let t1 = first(j).map(|j| {
            let fp = powf_derivative(g, a, b);
            v.row_scale(g, fp, j)
        });
        let t2 = second(j).map(|j| {
            let ln = g.elem(Func::Ln, a);
            let cl = g.mul(c, ln);
            v.outer(g, cl, j)
        });
        Ok(add(g, t1, t2))
    }
}

/// s aˢ⁻¹, the derivative of aˢ in a (entrywise).
pub fn powf_derivative(g: &mut Graph, a: NodeId, s: NodeId) -> NodeId {
    let one = g.lit(1.0);
    let s1 = g.sub(s, one);
    let p = g.powf(a, s1);
    g.times(s, p)
}

/// C = max(A, c) (or min) entrywise, c a scalar: dC = [A > c] ⊙ dA + (1 − [A > c]) dc (the
/// subgradient 0 where A = c)  ⇒  Ā += C̄ ⊙ [A > c], c̄ += sum(C̄ − C̄ ⊙ [A > c])
pub struct Extreme {
    pub max: bool,
}
impl Nonlinear for Extreme {
    fn tangent(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        let above = kink(g, self.max, s.a, s.b);
        let t1 = first(d).map(|x| g.mul(above, x));
        let t2 = second(d).map(|y| {
            let one = g.lit(1.0);
            let neg = g.neg(above);
            let rest = g.add_scalar(neg, one);
            g.times(y, rest)
        });
        sum(g, vec![t1, t2])
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let above = kink(g, self.max, s.a, s.b);
        let da = g.mul(cbar, above);
        let rest = g.sub(cbar, da);
        vec![(0, da), (1, g.sum(rest))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        let above = kink(g, self.max, s.a, s.b);
        let t1 = first(j).map(|j| v.row_scale(g, above, j));
        let t2 = second(j).map(|j| {
            let one = g.lit(1.0);
            let neg = g.neg(above);
            let rest = g.add_scalar(neg, one);
            v.outer(g, rest, j)
        });
        Ok(add(g, t1, t2))
    }
}

/// [a > c] for max(a, c), [a < c] for min(a, c): where the first argument is taken (the
/// subgradient 0 at the kink).
pub fn kink(g: &mut Graph, max: bool, a: NodeId, c: NodeId) -> NodeId {
    if max {
        g.above(a, c)
    } else {
        g.below(a, c)
    }
}

/// C = T⁻¹B (or T⁻ᵀB), T the lower (or upper) triangle of its argument:
/// dC = T⁻¹(dB − dT C) with dT in T's triangle  ⇒  B̄ += T⁻ᵀ C̄, T̄ += tril(−B̄ Cᵀ);
/// for T⁻ᵀB, dC = T⁻ᵀ(dB − dTᵀ C)  ⇒  B̄ += T⁻¹ C̄, T̄ += tril(−C B̄ᵀ) (triu for an upper
/// triangle): the same factor solves, transposed. For a constant triangle and a column b,
/// J_C = T⁻¹ J_b.
pub struct TriSolve {
    pub upper: bool,
    pub transpose: bool,
}
impl Nonlinear for TriSolve {
    fn tangent(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        let (upper, transpose) = (self.upper, self.transpose);
        let part = if upper { Part::Upper } else { Part::Lower };
        let moved = first(d).map(|x| {
            let dt = g.triangle(part, x);
            let dt = if transpose { g.transpose(dt) } else { dt };
            g.matmul(dt, s.c)
        });
        let rhs = match (second(d), moved) {
            (Some(y), Some(m)) => Some(g.sub(y, m)),
            (Some(y), None) => Some(y),
            (None, Some(m)) => Some(g.neg(m)),
            (None, None) => None,
        };
        rhs.map(|r| g.tri_solve(s.a, r, upper, transpose))
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let (upper, transpose, c) = (self.upper, self.transpose, s.c);
        let bbar = g.tri_solve(s.a, cbar, upper, !transpose);
        let outer = if transpose {
            let bt = g.transpose(bbar);
            g.matmul(c, bt)
        } else {
            let ct = g.transpose(c);
            g.matmul(bbar, ct)
        };
        let part = if upper { Part::Upper } else { Part::Lower };
        let neg = g.neg(outer);
        vec![(0, g.triangle(part, neg)), (1, bbar)]
    }
    fn jacobian(&self, _: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        let column = g.shape(s.b).is_some_and(|sb| sb.cols == Dim::Fixed(1));
        if first(j).is_some() || !column {
            return Err(Unsupported);
        }
        Ok(second(j).map(|j| g.tri_solve(s.a, j, self.upper, self.transpose)))
    }
}

/// L = chol(A), A = L Lᵀ read from its lower triangle: dL = L Φ(L⁻¹ dÂ L⁻ᵀ) with
/// dÂ = Φ(dA) + Φ(dA)ᵀ. Since Φ is self-adjoint, ⟨L̄, dL⟩ = ⟨S, dÂ⟩ with
/// S = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹  ⇒  Ā += Φ(S + Sᵀ)   (Murray 2016, "Differentiation of the Cholesky
/// decomposition"); two triangular solves with the factor, no inverse.
pub struct Cholesky;
impl Nonlinear for Cholesky {
    fn tangent(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        let c = s.c;
        first(d).map(|x| {
            let half = g.triangle(Part::LowerHalf, x);
            let half_t = g.transpose(half);
            let sym = g.add(half, half_t);
            let inner = g.congruence_by_inverse(c, sym);
            let phi = g.triangle(Part::LowerHalf, inner);
            g.matmul(c, phi)
        })
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let c = s.c;
        let lt = g.transpose(c);
        let p = g.matmul(lt, cbar);
        let p = g.triangle(Part::LowerHalf, p);
        let sv = g.congruence_by_inverse_transpose(c, p);
        let st = g.transpose(sv);
        let sym = g.add(sv, st);
        vec![(0, g.triangle(Part::LowerHalf, sym))]
    }
    fn jacobian(&self, _: &mut Batch, _: &mut Graph, _: &Site, _: &[Option<NodeId>]) -> Jac {
        Err(Unsupported)
    }
}

/// c = max(A) (or min): dc = dA at the first largest entry  ⇒  Ā += c̄ at that entry (a
/// subgradient); J_c is that row of J_A
pub struct Extremum {
    pub max: bool,
}
impl Nonlinear for Extremum {
    fn tangent(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| {
            let at = g.arg_extremum(s.a, self.max);
            g.dot(at, x)
        })
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let at = g.arg_extremum(s.a, self.max);
        vec![(0, g.scale(cbar, at))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        Ok(first(j).map(|j| {
            let at = g.arg_extremum(s.a, self.max);
            v.inner(g, at, j)
        }))
    }
}

/// C = Aᵏ (matrix power, k ≥ 2): dC = Σⱼ Aʲ dA Aᵏ⁻¹⁻ʲ  ⇒  Ā += Σⱼ (Aʲ)ᵀ C̄ (Aᵏ⁻¹⁻ʲ)ᵀ   (MC 91)
pub struct MatPow(pub u32);
impl Nonlinear for MatPow {
    fn tangent(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| {
            let terms = power_terms(g, s.a, self.0, |g, left, right| {
                let m = g.matmul(left, x);
                g.matmul(m, right)
            });
            terms.unwrap_or(x)
        })
    }
    fn adjoint(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let terms = power_terms(g, s.a, self.0, |g, left, right| {
            let (lt, rt) = (g.transpose(left), g.transpose(right));
            let m = g.matmul(lt, cbar);
            g.matmul(m, rt)
        });
        terms.map(|t| vec![(0, t)]).unwrap_or_default()
    }
    fn jacobian(&self, _: &mut Batch, _: &mut Graph, _: &Site, _: &[Option<NodeId>]) -> Jac {
        Err(Unsupported)
    }
}

/// Σⱼ term(Aʲ, Aᵏ⁻¹⁻ʲ) for j = 0..k: the k terms of the differential of a matrix power.
fn power_terms(
    g: &mut Graph,
    a: NodeId,
    k: u32,
    term: impl Fn(&mut Graph, NodeId, NodeId) -> NodeId,
) -> Option<NodeId> {
    let mut total: Option<NodeId> = None;
    for j in 0..k {
        let left = g.matpow(a, j);
        let right = g.matpow(a, k - 1 - j);
        let t = term(g, left, right);
        total = Some(match total {
            None => t,
            Some(sum) => g.add(sum, t),
        });
    }
    total
}
