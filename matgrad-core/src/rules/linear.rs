//! Linear operations, each declared once with its transpose: dC = L(dA) and Ā += Lᵀ(C̄), and
//! L on vec(·) for whole Jacobians. Structural maps (views, embeddings, triangles, diagonals,
//! broadcasts) are linear too: their transpose moves entries back where they came from.

use super::vec::{add, is_row, is_vector};
use super::{shape_of, sum, Batch, Jac, Linear, Site, Unsupported};
use crate::ir::{Graph, Index, NodeId, Op, Part};
use crate::shape::{Dim, Shape, Ty};

/// The first argument's differential.
fn first(d: &[Option<NodeId>]) -> Option<NodeId> {
    d.first().copied().flatten()
}

fn second(d: &[Option<NodeId>]) -> Option<NodeId> {
    d.get(1).copied().flatten()
}

/// C = −A: dC = −dA  ⇒  Ā += −C̄
pub struct Neg;
impl Linear for Neg {
    fn apply(&self, g: &mut Graph, _: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| g.neg(x))
    }
    fn transpose(&self, g: &mut Graph, _: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, g.neg(cbar))]
    }
    fn jacobian(&self, _: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        Ok(self.apply(g, s, j))
    }
}

/// C = A + B: dC = dA + dB  ⇒  Ā += C̄, B̄ += C̄
pub struct Add;
impl Linear for Add {
    fn apply(&self, g: &mut Graph, _: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        sum(g, vec![first(d), second(d)])
    }
    fn transpose(&self, _: &mut Graph, _: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, cbar), (1, cbar)]
    }
    fn jacobian(&self, _: &mut Batch, g: &mut Graph, _: &Site, j: &[Option<NodeId>]) -> Jac {
        Ok(add(g, first(j), second(j)))
    }
}

/// C = A − B: dC = dA − dB  ⇒  Ā += C̄, B̄ += −C̄
pub struct Sub;
impl Linear for Sub {
    fn apply(&self, g: &mut Graph, _: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        let ndb = second(d).map(|x| g.neg(x));
        sum(g, vec![first(d), ndb])
    }
    fn transpose(&self, g: &mut Graph, _: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, cbar), (1, g.neg(cbar))]
    }
    fn jacobian(&self, _: &mut Batch, g: &mut Graph, _: &Site, j: &[Option<NodeId>]) -> Jac {
        let nb = second(j).map(|x| g.neg(x));
        Ok(add(g, first(j), nb))
    }
}

/// C = Aᵀ: dC = (dA)ᵀ  ⇒  Ā += C̄ᵀ; vec(Aᵀ) = vec(A) for a vector, K vec(A) for a matrix
pub struct Transpose;
impl Linear for Transpose {
    fn apply(&self, g: &mut Graph, _: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| g.transpose(x))
    }
    fn transpose(&self, g: &mut Graph, _: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, g.transpose(cbar))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        let a = s.a;
        if is_vector(g, a) {
            return Ok(first(j));
        }
        Ok(first(j).map(|j| {
            let len = v.len_of(g, a);
            let k = g.node(
                Op::Commutation {
                    rows: shape_of(g, a).rows,
                },
                vec![],
                Ty::Matrix(Shape::new(len, len)),
            );
            g.matmul(k, j)
        }))
    }
}

/// c = tr(A): dc = tr(dA) = tr(Iᵀ dA)  ⇒  Ā += c̄ I   (MC 100); J = vec(I)ᵀ J_A
pub struct Trace;
impl Linear for Trace {
    fn apply(&self, g: &mut Graph, _: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| g.trace(x))
    }
    fn transpose(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let eye = g.identity(shape_of(g, s.a));
        vec![(0, g.scale(cbar, eye))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        Ok(first(j).map(|j| {
            let eye = g.identity(shape_of(g, s.a));
            v.inner(g, eye, j)
        }))
    }
}

/// c = sum(A): dc = ⟨J, dA⟩  ⇒  Ā += c̄ J; its Jacobian is 1ᵀ J_A
pub struct Sum;
impl Linear for Sum {
    fn apply(&self, g: &mut Graph, _: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| g.sum(x))
    }
    fn transpose(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let ones = g.ones(shape_of(g, s.a));
        vec![(0, g.scale(cbar, ones))]
    }
    fn jacobian(&self, _: &mut Batch, g: &mut Graph, _: &Site, j: &[Option<NodeId>]) -> Jac {
        Ok(first(j).map(|j| g.row_sum(j)))
    }
}

/// c = A_ij: dc = ⟨E_ij, dA⟩  ⇒  Ā += c̄ E_ij; a[i] is row i of J_a, A[(i, j)] row i + j·rows
pub struct Entry(pub Index, pub Index);
impl Linear for Entry {
    fn apply(&self, g: &mut Graph, _: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        let Entry(i, j) = self;
        first(d).map(|x| g.entry(x, i.clone(), j.clone()))
    }
    fn transpose(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let Entry(i, j) = self;
        let shape = shape_of(g, s.a);
        vec![(0, g.scatter(cbar, i.clone(), j.clone(), shape))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        let (i, jx) = (self.0.clone(), self.1.clone());
        let (a, one, n) = (s.a, Dim::Fixed(1), v.n);
        Ok(first(j).map(|j| {
            let sa = shape_of(g, a);
            if sa.rows == one && sa.cols == one {
                return j;
            }
            let k = if is_row(g, a) {
                jx
            } else if sa.cols == one {
                i
            } else if let (Index::Lit(i), Index::Lit(jj), Some(r)) =
                (&i, &jx, g.dims.known(sa.rows))
            {
                Index::Lit(i + jj * r)
            } else {
                // vec(E_ij)ᵀ J, where the row's index is only known at run time
                let unit = g.lit(1.0);
                let e = g.scatter(unit, i, jx, sa);
                return v.inner(g, e, j);
            };
            g.view(j, k, Index::Lit(0), Shape::new(one, n))
        }))
    }
}

/// C = s E_ij (C's shape): dC = ds E_ij  ⇒  s̄ += C̄_ij
pub struct Scatter(pub Index, pub Index);
impl Linear for Scatter {
    fn apply(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        let shape = s.ty.shape()?;
        first(d).map(|x| g.scatter(x, self.0.clone(), self.1.clone(), shape))
    }
    fn transpose(&self, g: &mut Graph, _: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, g.entry(cbar, self.0.clone(), self.1.clone()))]
    }
    fn jacobian(&self, _: &mut Batch, _: &mut Graph, _: &Site, _: &[Option<NodeId>]) -> Jac {
        Err(Unsupported)
    }
}

/// C = tril(A) (or triu, or Φ, a diagonal weighting of the entries): a projection, its own
/// transpose: d tril(A) = tril(dA)  ⇒  Ā += tril(C̄)
pub struct Triangle(pub Part);
impl Linear for Triangle {
    fn apply(&self, g: &mut Graph, _: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| g.triangle(self.0, x))
    }
    fn transpose(&self, g: &mut Graph, _: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, g.triangle(self.0, cbar))]
    }
    fn jacobian(&self, _: &mut Batch, _: &mut Graph, _: &Site, _: &[Option<NodeId>]) -> Jac {
        Err(Unsupported)
    }
}

/// c = diag(A): dc = diag(dA), ⟨c̄, diag(dA)⟩ = ⟨Diag(c̄), dA⟩  ⇒  Ā += Diag(c̄)
pub struct Diagonal;
impl Linear for Diagonal {
    fn apply(&self, g: &mut Graph, _: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| g.diagonal(x))
    }
    fn transpose(&self, g: &mut Graph, _: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, g.from_diagonal(cbar))]
    }
    fn jacobian(&self, _: &mut Batch, _: &mut Graph, _: &Site, _: &[Option<NodeId>]) -> Jac {
        Err(Unsupported)
    }
}

/// C = Diag(v): dC = Diag(dv)  ⇒  v̄ += diag(C̄)
pub struct FromDiagonal;
impl Linear for FromDiagonal {
    fn apply(&self, g: &mut Graph, _: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| g.from_diagonal(x))
    }
    fn transpose(&self, g: &mut Graph, _: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, g.diagonal(cbar))]
    }
    fn jacobian(&self, _: &mut Batch, _: &mut Graph, _: &Site, _: &[Option<NodeId>]) -> Jac {
        Err(Unsupported)
    }
}

/// c = 1ᵀA: dc = 1ᵀ dA, ⟨c̄, 1ᵀdA⟩ = ⟨1 c̄, dA⟩  ⇒  Ā += c̄ repeated as every row;
/// vec(1ᵀA) = (I ⊗ 1ᵀ) vec(A), applied block by block
pub struct RowSum;
impl Linear for RowSum {
    fn apply(&self, g: &mut Graph, _: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| g.row_sum(x))
    }
    fn transpose(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, g.repeat_row(cbar, shape_of(g, s.a)))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        Ok(first(j).map(|j| {
            let sa = shape_of(g, s.a);
            let ones = g.ones(Shape::new(Dim::Fixed(1), sa.rows));
            v.identity_kron(g, ones, sa.cols, j)
        }))
    }
}

/// c = A1: dc = dA 1  ⇒  Ā += c̄ repeated as every column; vec(A1) = (1ᵀ ⊗ I) vec(A)
pub struct ColumnSum;
impl Linear for ColumnSum {
    fn apply(&self, g: &mut Graph, _: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| g.column_sum(x))
    }
    fn transpose(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, g.repeat_column(cbar, shape_of(g, s.a)))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        Ok(first(j).map(|j| {
            let sa = shape_of(g, s.a);
            let ones = g.ones(Shape::new(Dim::Fixed(1), sa.cols));
            v.kron_identity(g, ones, sa.rows, j)
        }))
    }
}

/// C = 1 r: dC = 1 dr  ⇒  r̄ += 1ᵀ C̄, the sum of the rows of C̄ (the gradient of a bias);
/// vec(1r) = (I ⊗ 1) vec(r)
pub struct RepeatRow;
impl Linear for RepeatRow {
    fn apply(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| g.repeat_row(x, s.ty.shape().unwrap_or_else(|| shape_of(g, s.c))))
    }
    fn transpose(&self, g: &mut Graph, _: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, g.row_sum(cbar))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        Ok(first(j).map(|j| {
            let sc = shape_of(g, s.c);
            let ones = g.ones(Shape::new(sc.rows, Dim::Fixed(1)));
            v.identity_kron(g, ones, sc.cols, j)
        }))
    }
}

/// C = c 1ᵀ: dC = dc 1ᵀ  ⇒  c̄ += C̄ 1; vec(c1ᵀ) = (1 ⊗ I) vec(c)
pub struct RepeatColumn;
impl Linear for RepeatColumn {
    fn apply(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| g.repeat_column(x, s.ty.shape().unwrap_or_else(|| shape_of(g, s.c))))
    }
    fn transpose(&self, g: &mut Graph, _: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, g.column_sum(cbar))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        Ok(first(j).map(|j| {
            let sc = shape_of(g, s.c);
            let ones = g.ones(Shape::new(sc.cols, Dim::Fixed(1)));
            v.kron_identity(g, ones, sc.rows, j)
        }))
    }
}

/// C = the block of A at (i, j): Ā += C̄ in that block, zero elsewhere. For whole Jacobians,
/// V = Sᵣ A Sᶜᵀ with Sᵣ, Sᶜ rows of identities, so vec(V) = (Sᶜ ⊗ I)(I ⊗ Sᵣ) vec(A): rows
/// of J picked block by block (for a vector, the same rows of J)
pub struct View(pub Index, pub Index);
impl Linear for View {
    fn apply(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| g.view(x, self.0.clone(), self.1.clone(), shape_of(g, s.c)))
    }
    fn transpose(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let shape = shape_of(g, s.a);
        vec![(0, g.embed(cbar, self.0.clone(), self.1.clone(), shape))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        let (i, jx, a, c) = (self.0.clone(), self.1.clone(), s.a, s.c);
        if is_vector(g, a) {
            return Ok(first(j).map(|j| {
                let start = if is_row(g, a) { jx } else { i };
                let len = v.len_of(g, c);
                g.view(j, start, Index::Lit(0), Shape::new(len, v.n))
            }));
        }
        Ok(first(j).map(|j| {
            let (sa, sv) = (shape_of(g, a), shape_of(g, c));
            let eye_r = g.identity(Shape::new(sa.rows, sa.rows));
            let pick_rows = g.view(eye_r, i, Index::Lit(0), Shape::new(sv.rows, sa.rows));
            let eye_c = g.identity(Shape::new(sa.cols, sa.cols));
            let pick_cols = g.view(eye_c, jx, Index::Lit(0), Shape::new(sv.cols, sa.cols));
            let rows_picked = v.identity_kron(g, pick_rows, sa.cols, j);
            v.kron_identity(g, pick_cols, sv.rows, rows_picked)
        }))
    }
}

/// C = B placed at (i, j) in zeros of C's shape: B̄ += that block of C̄
pub struct Embed(pub Index, pub Index);
impl Linear for Embed {
    fn apply(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| g.embed(x, self.0.clone(), self.1.clone(), shape_of(g, s.c)))
    }
    fn transpose(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let shape = shape_of(g, s.a);
        vec![(0, g.view(cbar, self.0.clone(), self.1.clone(), shape))]
    }
    fn jacobian(&self, _: &mut Batch, _: &mut Graph, _: &Site, _: &[Option<NodeId>]) -> Jac {
        Err(Unsupported)
    }
}

/// C = A's entries in C's shape: Ā += C̄ put back in A's shape
pub struct Reshape;
impl Linear for Reshape {
    fn apply(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        first(d).map(|x| g.reshape(x, shape_of(g, s.c)))
    }
    fn transpose(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, g.reshape(cbar, shape_of(g, s.a)))]
    }
    fn jacobian(&self, _: &mut Batch, _: &mut Graph, _: &Site, _: &[Option<NodeId>]) -> Jac {
        Err(Unsupported)
    }
}

/// C = A + s J: dC = dA + ds J  ⇒  Ā += C̄, s̄ += sum(C̄); J_C = J_A + 1 J_s
pub struct AddScalar;
impl Linear for AddScalar {
    fn apply(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        match (first(d), second(d)) {
            (Some(x), Some(y)) => Some(g.add_scalar(x, y)),
            (Some(x), None) => Some(x),
            (None, Some(y)) => {
                let ones = g.ones(s.ty.shape()?);
                Some(g.scale(y, ones))
            }
            (None, None) => None,
        }
    }
    fn transpose(&self, g: &mut Graph, _: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        vec![(0, cbar), (1, g.sum(cbar))]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        let len = v.len_of(g, s.c);
        let t2 = second(j).map(|j| g.repeat_row(j, Shape::new(len, v.n)));
        Ok(add(g, first(j), t2))
    }
}

/// c = [s₀; s₁; ..]: dc = [ds₀; ds₁; ..]  ⇒  s̄ᵢ += C̄ᵢ; row i of J is J_sᵢ
pub struct Stack;
impl Linear for Stack {
    fn apply(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        let parts: Vec<NodeId> = d.iter().map(|x| x.unwrap_or_else(|| g.lit(0.0))).collect();
        Some(g.node(Op::Stack, parts, s.ty))
    }
    fn transpose(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        (0..s.args.len())
            .map(|i| (i, g.entry(cbar, Index::Lit(i), Index::Lit(0))))
            .collect()
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        let len = v.len_of(g, s.c);
        let shape = Shape::new(len, v.n);
        let mut total = None;
        for (i, js) in j.iter().enumerate() {
            if let Some(js) = js {
                let e = g.embed(*js, Index::Lit(i), Index::Lit(0), shape);
                total = add(g, total, Some(e));
            }
        }
        Ok(total)
    }
}

/// C = k A (or kᵀ A) for a constant k of unknown kind, scalar or matrix: dC = k dA  ⇒
/// Ā += kᵀ C̄ (k C̄ for C = kᵀ A): the same operation with the transpose flag flipped, which is
/// right for either kind. No whole-Jacobian rule: sweeps fill the Jacobian.
pub struct KindProduct {
    pub transposed: bool,
}
impl Linear for KindProduct {
    fn apply(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        second(d).map(|x| g.kind_product(s.a, x, self.transposed, s.ty))
    }
    fn transpose(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let ty = g.ty(s.b);
        vec![(1, g.kind_product(s.a, cbar, !self.transposed, ty))]
    }
    fn jacobian(&self, _: &mut Batch, _: &mut Graph, _: &Site, _: &[Option<NodeId>]) -> Jac {
        Err(Unsupported)
    }
}

/// C = a where m ≠ 0, b elsewhere (a branch, m a condition, itself piecewise constant):
/// dC = select(m, da, db)  ⇒  ā += select(m, C̄, 0), b̄ += select(m, 0, C̄): the derivative of
/// the branch taken, also on the boundary. For a scalar m (a branch of the whole value),
/// J_C = select(m, J_a, J_b); an entrywise m has no whole-Jacobian rule here.
pub struct Select;
impl Linear for Select {
    fn apply(&self, g: &mut Graph, s: &Site, d: &[Option<NodeId>]) -> Option<NodeId> {
        let (da, db) = (d.get(1).copied().flatten(), d.get(2).copied().flatten());
        if da.is_none() && db.is_none() {
            return None;
        }
        let zero = g.zero(s.ty);
        let (x, y) = (da.unwrap_or(zero), db.unwrap_or(zero));
        Some(g.select(s.a, x, y))
    }
    fn transpose(&self, g: &mut Graph, s: &Site, cbar: NodeId) -> Vec<(usize, NodeId)> {
        let zero = g.zero(g.ty(cbar));
        vec![
            (1, g.select(s.a, cbar, zero)),
            (2, g.select(s.a, zero, cbar)),
        ]
    }
    fn jacobian(&self, v: &mut Batch, g: &mut Graph, s: &Site, j: &[Option<NodeId>]) -> Jac {
        if g.ty(s.a).is_matrix() {
            return Err(Unsupported);
        }
        let (ja, jb) = (j.get(1).copied().flatten(), j.get(2).copied().flatten());
        if ja.is_none() && jb.is_none() {
            return Ok(None);
        }
        let len = v.len_of(g, s.c);
        let zero = g.zero(Ty::Matrix(Shape::new(len, v.n)));
        Ok(Some(g.select(s.a, ja.unwrap_or(zero), jb.unwrap_or(zero))))
    }
}
