//! Jacobians built whole: the forward differential of every node with respect to all entries
//! of a vector variable at once, J_C = ∂vec(C)/∂xᵀ, seeded with J_x = I.
//!
//! Each rule is the forward rule of `rules.rs` with the direction replaced by a matrix of
//! directions, read by the vec rules (vec(A dX B) = (Bᵀ ⊗ A) vec(dX), vec(dXᵀ) = K vec(dX)),
//! and the structure the sweeps cannot see comes out by itself: A I is A (a linear map is one
//! copy), f′(a) ⊙ da becomes diag(f′(a)) J_a, computed as a row scaling, never as diag(·);
//! I ⊗ A is a block fill and K a permutation of rows (`emit.rs`); an entry a[i] is row i of
//! J_a. A node's Jacobian has one row per entry of vec(node) (a scalar's is a row) and one
//! column per entry of vec(x).
//!
//! An operation without a rule here on the path returns `None`, and the Jacobian is filled by
//! sweeps instead (`expand/jacobian.rs`).

use std::collections::HashMap;

use crate::ir::{Func, Graph, Index, NodeId, Op};
use crate::rules::{derivative, kink, powf_derivative, powi_derivative};
use crate::shape::{Dim, Shape, Ty};

/// Why there is no batched Jacobian: the path leaves vectors and scalars.
struct Unsupported;

type Jac = Result<Option<NodeId>, Unsupported>;

/// The numerator-layout Jacobian of `output` with respect to the matrix or vector `x`, as a
/// node, or `None` if some operation on the path has no rule here. `Some(None)` if `output`
/// does not depend on `x`.
pub fn jacobian(g: &mut Graph, output: NodeId, x: NodeId) -> Option<Option<NodeId>> {
    let sx = g.shape(x)?;
    let mut batch = Batch {
        n: Dim::Fixed(0),
        products: HashMap::new(),
    };
    batch.n = batch.len_of_shape(g, sx);
    if x.index() > output.index() {
        return Some(None);
    }
    let mut jac: Vec<Option<NodeId>> = vec![None; output.index() + 1];
    jac[x.index()] = Some(g.identity(Shape::new(batch.n, batch.n)));
    for id in 0..=output.index() {
        let c = NodeId(id as u32);
        if c == x || g.op(c).is_leaf() {
            continue;
        }
        let args = g.args(c).to_vec();
        if args.iter().all(|a| jac[a.index()].is_none()) {
            continue;
        }
        let d: Vec<Option<NodeId>> = args.iter().map(|a| jac[a.index()]).collect();
        jac[id] = batch.rule(g, c, &d).ok()?;
        if jac[id].is_some_and(|j| g.is_zero(j)) {
            jac[id] = None;
        }
    }
    Some(jac[output.index()])
}

/// The pass's state: the number of columns (entries of x) and the products of dimensions made
/// so far, so that the length of vec(C) is one dimension however often it is asked for.
struct Batch {
    n: Dim,
    products: HashMap<(Dim, Dim), Dim>,
}

fn is_row(g: &Graph, a: NodeId) -> bool {
    g.shape(a)
        .is_some_and(|s| s.rows == Dim::Fixed(1) && s.cols != Dim::Fixed(1))
}

fn is_vector(g: &Graph, a: NodeId) -> bool {
    match g.ty(a) {
        Ty::Scalar => true,
        Ty::Matrix(s) => s.rows == Dim::Fixed(1) || s.cols == Dim::Fixed(1),
        Ty::Unknown => false,
    }
}

impl Batch {
    /// a · b as a dimension: fixed if both are, otherwise a product variable whose run-time
    /// value generated code computes from the factors'.
    fn product(&mut self, g: &mut Graph, a: Dim, b: Dim) -> Dim {
        match (a, b) {
            (Dim::Fixed(1), d) | (d, Dim::Fixed(1)) => return d,
            (Dim::Fixed(x), Dim::Fixed(y)) => return Dim::Fixed(x * y),
            _ => {}
        }
        let key = if a <= b { (a, b) } else { (b, a) };
        if let Some(&d) = self.products.get(&key) {
            return d;
        }
        let v = g.dims.fresh_product("the entries of a matrix", a, b);
        let code = |d: Dim| match d {
            Dim::Fixed(n) => Some(quote::quote!(#n)),
            Dim::Dyn(v) => g.dims.runtime(v).cloned(),
        };
        if let (Some(ca), Some(cb)) = (code(a), code(b)) {
            g.dims
                .add_source(v, crate::shape::DimSource::Expr(quote::quote!((#ca * #cb))));
        }
        let d = Dim::Dyn(v);
        self.products.insert(key, d);
        d
    }

    fn len_of_shape(&mut self, g: &mut Graph, s: Shape) -> Dim {
        self.product(g, s.rows, s.cols)
    }

    /// The number of entries of a value (1 for a scalar).
    fn len_of(&mut self, g: &mut Graph, a: NodeId) -> Dim {
        match g.shape(a) {
            Some(s) => self.len_of_shape(g, s),
            None => Dim::Fixed(1),
        }
    }

    /// vec(a) as a column; a scalar stays a scalar.
    fn column(&mut self, g: &mut Graph, a: NodeId) -> NodeId {
        match g.shape(a) {
            Some(s) if s.cols == Dim::Fixed(1) => a,
            Some(_) if is_row(g, a) => g.transpose(a),
            Some(_) => {
                let len = self.len_of(g, a);
                g.reshape(a, Shape::new(len, Dim::Fixed(1)))
            }
            None => a,
        }
    }

    /// diag(vec d) J (a scalar d scales J).
    fn row_scale(&mut self, g: &mut Graph, d: NodeId, j: NodeId) -> NodeId {
        if !g.ty(d).is_matrix() {
            return g.scale(d, j);
        }
        let d = self.column(g, d);
        g.row_scale(d, j)
    }

    /// vec(a) J_s for a scalar s whose Jacobian is the row J_s.
    fn outer(&mut self, g: &mut Graph, a: NodeId, js: NodeId) -> NodeId {
        if !g.ty(a).is_matrix() {
            return g.scale(a, js);
        }
        let a = self.column(g, a);
        g.matmul(a, js)
    }

    /// vec(a)ᵀ J: the Jacobian of ⟨a, b⟩ through b.
    fn inner(&mut self, g: &mut Graph, a: NodeId, j: NodeId) -> NodeId {
        if !g.ty(a).is_matrix() {
            return g.scale(a, j);
        }
        let a = self.column(g, a);
        let at = g.transpose(a);
        g.matmul(at, j)
    }

    /// (I_q ⊗ A) J: A applied to each block of rows of J (q = the columns of the product).
    fn identity_kron(&mut self, g: &mut Graph, a: NodeId, q: Dim, j: NodeId) -> NodeId {
        if q == Dim::Fixed(1) {
            return g.matmul(a, j);
        }
        let sa = g
            .shape(a)
            .unwrap_or(Shape::new(Dim::Fixed(1), Dim::Fixed(1)));
        let eye = g.identity(Shape::new(q, q));
        let rows = self.product(g, q, sa.rows);
        let cols = self.product(g, q, sa.cols);
        let k = g.kron(eye, a, Shape::new(rows, cols));
        g.matmul(k, j)
    }

    /// (M ⊗ I_p) J: block i of the result is Σₖ Mᵢₖ times block k of J.
    fn kron_identity(&mut self, g: &mut Graph, m: NodeId, p: Dim, j: NodeId) -> NodeId {
        if p == Dim::Fixed(1) {
            return g.matmul(m, j);
        }
        let sm = g
            .shape(m)
            .unwrap_or(Shape::new(Dim::Fixed(1), Dim::Fixed(1)));
        let eye = g.identity(Shape::new(p, p));
        let rows = self.product(g, sm.rows, p);
        let cols = self.product(g, sm.cols, p);
        let k = g.kron(m, eye, Shape::new(rows, cols));
        g.matmul(k, j)
    }
}

fn add(g: &mut Graph, x: Option<NodeId>, y: Option<NodeId>) -> Option<NodeId> {
    match (x, y) {
        (Some(a), Some(b)) => Some(g.add(a, b)),
        (a, b) => a.or(b),
    }
}

impl Batch {
    /// J_C from the Jacobians `d` of C's arguments.
    fn rule(&mut self, g: &mut Graph, c: NodeId, d: &[Option<NodeId>]) -> Jac {
        let args = g.args(c).to_vec();
        let a = args.first().copied().unwrap_or(c);
        let b = args.get(1).copied().unwrap_or(c);
        let (ja, jb) = (d.first().copied().flatten(), d.get(1).copied().flatten());
        if g.ty(c) == Ty::Unknown || args.iter().any(|&x| g.ty(x) == Ty::Unknown) {
            return Err(Unsupported);
        }
        let n = self.n;
        let one = Dim::Fixed(1);
        let shape_of = |g: &Graph, x: NodeId| g.shape(x).unwrap_or(Shape::new(one, one));
        let out = match g.op(c).clone() {
            Op::Neg => ja.map(|j| g.neg(j)),
            Op::Add => add(g, ja, jb),
            Op::Sub => {
                let nb = jb.map(|j| g.neg(j));
                add(g, ja, nb)
            }
            // vec(aᵀ) = vec(a) for a vector; K vec(A) for a matrix
            Op::Transpose if is_vector(g, a) => ja,
            Op::Transpose => ja.map(|j| {
                let len = self.len_of(g, a);
                let k = g.node(
                    Op::Commutation {
                        rows: shape_of(g, a).rows,
                    },
                    vec![],
                    Ty::Matrix(Shape::new(len, len)),
                );
                g.matmul(k, j)
            }),
            // vec(dA B + A dB) = (Bᵀ ⊗ I) vec(dA) + (I ⊗ A) vec(dB)
            Op::MatMul => {
                let (sa, sb) = (shape_of(g, a), shape_of(g, b));
                let t1 = ja.map(|j| {
                    let bt = g.transpose(b);
                    self.kron_identity(g, bt, sa.rows, j)
                });
                let t2 = jb.map(|j| self.identity_kron(g, a, sb.cols, j));
                add(g, t1, t2)
            }
            // d(s A) = ds A + s dA
            Op::Scale => {
                let t1 = ja.map(|j| self.outer(g, b, j));
                let t2 = jb.map(|j| g.scale(a, j));
                add(g, t1, t2)
            }
            // d(A ⊙ B) = diag(vec B) dA + diag(vec A) dB
            Op::Mul => {
                let t1 = ja.map(|j| self.row_scale(g, b, j));
                let t2 = jb.map(|j| self.row_scale(g, a, j));
                add(g, t1, t2)
            }
            // d(A ⊘ B) = diag(1 ⊘ B) dA − diag(C ⊘ B) dB; d(A / s) = dA / s − (C / s) ds
            Op::Div => {
                let t1 = ja.map(|j| {
                    if g.ty(b).is_matrix() {
                        let r = g.elem(Func::Recip, b);
                        self.row_scale(g, r, j)
                    } else {
                        g.div(j, b)
                    }
                });
                let t2 = jb.map(|j| {
                    let q = g.div(c, b);
                    let t = if g.ty(b).is_matrix() {
                        self.row_scale(g, q, j)
                    } else {
                        self.outer(g, q, j)
                    };
                    g.neg(t)
                });
                add(g, t1, t2)
            }
            Op::Elem(f) => ja.map(|j| {
                let fp = derivative(g, f, a, c);
                self.row_scale(g, fp, j)
            }),
            Op::Powi(k) => ja.map(|j| {
                let fp = powi_derivative(g, a, k);
                self.row_scale(g, fp, j)
            }),
            Op::Powf => {
                let t1 = ja.map(|j| {
                    let fp = powf_derivative(g, a, b);
                    self.row_scale(g, fp, j)
                });
                let t2 = jb.map(|j| {
                    let ln = g.elem(Func::Ln, a);
                    let cl = g.mul(c, ln);
                    self.outer(g, cl, j)
                });
                add(g, t1, t2)
            }
            // d(A + s J) = dA + 1 ds
            Op::AddScalar => {
                let len = self.len_of(g, c);
                let t2 = jb.map(|j| g.repeat_row(j, Shape::new(len, n)));
                add(g, ja, t2)
            }
            // d max(A, s) = diag([A > s]) dA + (1 − [A > s]) ds
            Op::Max | Op::Min => {
                let above = kink(g, g.op(c) == &Op::Max, a, b);
                let t1 = ja.map(|j| self.row_scale(g, above, j));
                let t2 = jb.map(|j| {
                    let one = g.lit(1.0);
                    let neg = g.neg(above);
                    let rest = g.add_scalar(neg, one);
                    self.outer(g, rest, j)
                });
                add(g, t1, t2)
            }
            // a[i] is row i of J_a; A[(i, j)] is row i + j·rows of J_A
            Op::Entry(i, jx) => ja.map(|j| {
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
                    return self.inner(g, e, j);
                };
                g.view(j, k, Index::Lit(0), Shape::new(one, n))
            }),
            // [s₀; s₁; ..]: row i of J is J_sᵢ
            Op::Stack => {
                let len = self.len_of(g, c);
                let shape = Shape::new(len, n);
                let mut total = None;
                for (i, js) in d.iter().enumerate() {
                    if let Some(js) = js {
                        let e = g.embed(*js, Index::Lit(i), Index::Lit(0), shape);
                        total = add(g, total, Some(e));
                    }
                }
                total
            }
            // d sum(A) = 1ᵀ vec(dA), d⟨A, B⟩ = vec(A)ᵀ vec(dB) + vec(B)ᵀ vec(dA), d tr(A) = vec(I)ᵀ vec(dA)
            Op::Sum => ja.map(|j| g.row_sum(j)),
            Op::Dot => {
                let t1 = jb.map(|j| self.inner(g, a, j));
                let t2 = ja.map(|j| self.inner(g, b, j));
                add(g, t1, t2)
            }
            Op::NormSq => ja.map(|j| {
                let t = self.inner(g, a, j);
                let two = g.lit(2.0);
                g.scale(two, t)
            }),
            Op::Norm => ja.map(|j| {
                let t = self.inner(g, a, j);
                g.div(t, c)
            }),
            Op::Trace => ja.map(|j| {
                let eye = g.identity(shape_of(g, a));
                self.inner(g, eye, j)
            }),
            // d(A⁻¹) = −C dA C  ⇒  −(Cᵀ ⊗ C) J
            Op::Inverse => ja.map(|j| {
                let s = shape_of(g, c);
                let left = self.identity_kron(g, c, s.cols, j);
                let ct = g.transpose(c);
                let both = self.kron_identity(g, ct, s.rows, left);
                g.neg(both)
            }),
            // d det(A) = det(A) vec(A⁻ᵀ)ᵀ vec(dA)
            Op::Det => ja.map(|j| {
                let inv = g.inverse(a);
                let inv_t = g.transpose(inv);
                let t = self.inner(g, inv_t, j);
                g.scale(c, t)
            }),
            // vec(1ᵀA) = (I ⊗ 1ᵀ) vec(A), vec(A1) = (1ᵀ ⊗ I) vec(A), vec(1r) = (I ⊗ 1) vec(r),
            // vec(c1ᵀ) = (1 ⊗ I) vec(c): applied block by block, the ones never formed as I ⊗ 1
            Op::RowSum => ja.map(|j| {
                let s = shape_of(g, a);
                let ones = g.ones(Shape::new(one, s.rows));
                self.identity_kron(g, ones, s.cols, j)
            }),
            Op::ColumnSum => ja.map(|j| {
                let s = shape_of(g, a);
                let ones = g.ones(Shape::new(one, s.cols));
                self.kron_identity(g, ones, s.rows, j)
            }),
            Op::RepeatRow => ja.map(|j| {
                let s = shape_of(g, c);
                let ones = g.ones(Shape::new(s.rows, one));
                self.identity_kron(g, ones, s.cols, j)
            }),
            Op::RepeatColumn => ja.map(|j| {
                let s = shape_of(g, c);
                let ones = g.ones(Shape::new(s.cols, one));
                self.kron_identity(g, ones, s.rows, j)
            }),
            // A block of a matrix: V = Sᵣ A Sᶜᵀ with Sᵣ, Sᶜ rows of identities, so
            // vec(V) = (Sᶜ ⊗ I)(I ⊗ Sᵣ) vec(A): rows of J picked block by block
            Op::View(i, jx) if !is_vector(g, a) => ja.map(|j| {
                let (sa, sv) = (shape_of(g, a), shape_of(g, c));
                let eye_r = g.identity(Shape::new(sa.rows, sa.rows));
                let pick_rows = g.view(eye_r, i, Index::Lit(0), Shape::new(sv.rows, sa.rows));
                let eye_c = g.identity(Shape::new(sa.cols, sa.cols));
                let pick_cols = g.view(eye_c, jx, Index::Lit(0), Shape::new(sv.cols, sa.cols));
                let rows_picked = self.identity_kron(g, pick_rows, sa.cols, j);
                self.kron_identity(g, pick_cols, sv.rows, rows_picked)
            }),
            // A block of a vector: the same rows of J
            Op::View(i, jx) if is_vector(g, a) => ja.map(|j| {
                let start = if is_row(g, a) { jx } else { i };
                let len = self.len_of(g, c);
                g.view(j, start, Index::Lit(0), Shape::new(len, n))
            }),
            // T⁻¹ b for a constant triangle and a column b: T⁻¹ J_b
            Op::TriSolve { upper, transpose }
                if ja.is_none() && g.shape(b).is_some_and(|s| s.cols == one) =>
            {
                jb.map(|j| g.tri_solve(a, j, upper, transpose))
            }
            // max(A) is the entry at its first arg-max: that row of J_A
            Op::Extremum { max } => ja.map(|j| {
                let at = g.arg_extremum(a, max);
                self.inner(g, at, j)
            }),
            Op::Above | Op::ArgExtremum { .. } => None,
            _ => return Err(Unsupported),
        };
        Ok(out)
    }
}
