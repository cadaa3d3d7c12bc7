//! Jacobians built whole: the forward differential of every node with respect to all entries
//! of a vector variable at once, J_C = ∂vec(C)/∂xᵀ, seeded with J_x = I.
//!
//! Where every value between the variable and the result is a vector or a scalar, each rule is
//! the forward rule of `rules.rs` with the direction replaced by a matrix of directions, and
//! the structure the sweeps cannot see comes out by itself: A I is A (a linear map is one
//! copy), f′(a) ⊙ da becomes diag(f′(a)) J_a, computed as a row scaling, never as diag(·),
//! and an entry a[i] is row i of J_a. A node's Jacobian has one row per entry of the node (a
//! scalar's is a row) and one column per entry of the variable.
//!
//! Anything else on the path (a matrix that depends on the variable, an operation without a
//! rule here) returns `None`, and the Jacobian is filled by sweeps instead (`expand/jacobian.rs`).

use crate::ir::{Func, Graph, Index, NodeId, Op};
use crate::rules::derivative;
use crate::shape::{Dim, Shape, Ty};

/// Why there is no batched Jacobian: the path leaves vectors and scalars.
struct Unsupported;

type Jac = Result<Option<NodeId>, Unsupported>;

/// The numerator-layout Jacobian of `output` with respect to the column vector `x`, as a node,
/// or `None` if some value on the path is not a vector or scalar. `Some(None)` if `output`
/// does not depend on `x`.
pub fn jacobian(g: &mut Graph, output: NodeId, x: NodeId) -> Option<Option<NodeId>> {
    let n = match g.shape(x) {
        Some(s) if s.cols == Dim::Fixed(1) => s.rows,
        _ => return None,
    };
    let mut jac: Vec<Option<NodeId>> = vec![None; output.index() + 1];
    if x.index() > output.index() {
        return Some(None);
    }
    jac[x.index()] = Some(g.identity(Shape::new(n, n)));
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
        jac[id] = rule(g, c, &d, n).ok()?;
        if jac[id].is_some_and(|j| g.is_zero(j)) {
            jac[id] = None;
        }
    }
    Some(jac[output.index()])
}

/// Whether a node is a vector (one row or one column) or a scalar: the values a batched
/// Jacobian can pass through.
fn is_vector(g: &Graph, a: NodeId) -> bool {
    match g.ty(a) {
        Ty::Scalar => true,
        Ty::Matrix(s) => s.rows == Dim::Fixed(1) || s.cols == Dim::Fixed(1),
        Ty::Unknown => false,
    }
}

fn is_row(g: &Graph, a: NodeId) -> bool {
    g.shape(a)
        .is_some_and(|s| s.rows == Dim::Fixed(1) && s.cols != Dim::Fixed(1))
}

/// The entries of a vector as a column (vec(a)); a scalar stays a scalar.
fn column(g: &mut Graph, a: NodeId) -> NodeId {
    if is_row(g, a) {
        g.transpose(a)
    } else {
        a
    }
}

/// The number of entries of a vector or scalar.
fn length(g: &Graph, a: NodeId) -> Dim {
    match g.shape(a) {
        Some(s) if s.cols == Dim::Fixed(1) => s.rows,
        Some(s) => s.cols,
        None => Dim::Fixed(1),
    }
}

fn add(g: &mut Graph, x: Option<NodeId>, y: Option<NodeId>) -> Option<NodeId> {
    match (x, y) {
        (Some(a), Some(b)) => Some(g.add(a, b)),
        (a, b) => a.or(b),
    }
}

/// diag(d) J for a column d (a scalar d scales J).
fn row_scale(g: &mut Graph, d: NodeId, j: NodeId) -> NodeId {
    if !g.ty(d).is_matrix() {
        return g.scale(d, j);
    }
    let d = column(g, d);
    g.row_scale(d, j)
}

/// vec(a) J_s for a scalar s whose Jacobian is the row J_s: the outer product a J_s.
fn outer(g: &mut Graph, a: NodeId, js: NodeId) -> NodeId {
    if !g.ty(a).is_matrix() {
        return g.scale(a, js);
    }
    let a = column(g, a);
    g.matmul(a, js)
}

/// aᵀ J for a vector a: the Jacobian of ⟨a, b⟩ through b.
fn inner(g: &mut Graph, a: NodeId, j: NodeId) -> NodeId {
    if !g.ty(a).is_matrix() {
        return g.scale(a, j);
    }
    let a = column(g, a);
    let at = g.transpose(a);
    g.matmul(at, j)
}

/// J_C from the Jacobians `d` of C's arguments.
fn rule(g: &mut Graph, c: NodeId, d: &[Option<NodeId>], n: Dim) -> Jac {
    let args = g.args(c).to_vec();
    let a = args.first().copied().unwrap_or(c);
    let b = args.get(1).copied().unwrap_or(c);
    let (ja, jb) = (d.first().copied().flatten(), d.get(1).copied().flatten());
    if !args
        .iter()
        .zip(d)
        .all(|(&x, j)| j.is_none() || is_vector(g, x))
        || !is_vector(g, c)
    {
        return Err(Unsupported);
    }
    let rows = |g: &Graph, c: NodeId| Shape::new(length(g, c), n);
    let out = match g.op(c).clone() {
        Op::Neg => ja.map(|j| g.neg(j)),
        Op::Add => add(g, ja, jb),
        Op::Sub => {
            let nb = jb.map(|j| g.neg(j));
            add(g, ja, nb)
        }
        // vec(aᵀ) = vec(a) for a vector
        Op::Transpose => ja,
        // d(A b) = A db + dA b: a constant matrix times a vector, or a row times a column
        Op::MatMul => {
            let row_times_column =
                is_row(g, a) || g.shape(a).is_some_and(|s| s.rows == Dim::Fixed(1));
            match (ja, jb) {
                (None, Some(j)) if g.shape(b).is_some_and(|s| s.cols == Dim::Fixed(1)) => {
                    Some(g.matmul(a, j))
                }
                _ if row_times_column && g.shape(b).is_some_and(|s| s.cols == Dim::Fixed(1)) => {
                    let t1 = jb.map(|j| g.matmul(a, j));
                    let t2 = ja.map(|j| inner(g, b, j));
                    add(g, t1, t2)
                }
                // a row vector times a constant matrix: vec(a B) = Bᵀ vec(a)
                (Some(j), None) if row_times_column => {
                    let bt = g.transpose(b);
                    Some(g.matmul(bt, j))
                }
                _ => return Err(Unsupported),
            }
        }
        // d(s a) = ds a + s da
        Op::Scale => {
            let t1 = ja.map(|j| outer(g, b, j));
            let t2 = jb.map(|j| g.scale(a, j));
            add(g, t1, t2)
        }
        // d(a ⊙ b) = diag(b) da + diag(a) db
        Op::Mul => {
            let t1 = ja.map(|j| row_scale(g, b, j));
            let t2 = jb.map(|j| row_scale(g, a, j));
            add(g, t1, t2)
        }
        // d(a ⊘ b) = diag(1 ⊘ b) da − diag(c ⊘ b) db; d(a / s) = da / s − (c / s) ds
        Op::Div => {
            let t1 = ja.map(|j| {
                if g.ty(b).is_matrix() {
                    let r = g.elem(Func::Recip, b);
                    row_scale(g, r, j)
                } else {
                    g.div(j, b)
                }
            });
            let t2 = jb.map(|j| {
                let q = g.div(c, b);
                let t = if g.ty(b).is_matrix() {
                    row_scale(g, q, j)
                } else {
                    outer(g, q, j)
                };
                g.neg(t)
            });
            add(g, t1, t2)
        }
        Op::Elem(f) => ja.map(|j| {
            let fp = if f == Func::Ln {
                g.elem(Func::Recip, a)
            } else {
                derivative(g, f, a, c)
            };
            row_scale(g, fp, j)
        }),
        Op::Powi(k) => ja.map(|j| {
            let p = g.powi(a, k - 1);
            let kk = g.lit(f64::from(k));
            let fp = g.times(kk, p);
            row_scale(g, fp, j)
        }),
        Op::Powf => {
            let t1 = ja.map(|j| {
                let one = g.lit(1.0);
                let s1 = g.sub(b, one);
                let p = g.powf(a, s1);
                let fp = g.times(b, p);
                row_scale(g, fp, j)
            });
            let t2 = jb.map(|j| {
                let ln = g.elem(Func::Ln, a);
                let cl = g.mul(c, ln);
                outer(g, cl, j)
            });
            add(g, t1, t2)
        }
        // d(a + s 1) = da + 1 ds
        Op::AddScalar => {
            let shape = rows(g, c);
            let t2 = jb.map(|j| g.repeat_row(j, shape));
            add(g, ja, t2)
        }
        // d max(a, s) = diag([a > s]) da + (1 − [a > s]) ds
        Op::Max | Op::Min => {
            let above = if g.op(c) == &Op::Max {
                g.above(a, b)
            } else {
                g.below(a, b)
            };
            let t1 = ja.map(|j| row_scale(g, above, j));
            let t2 = jb.map(|j| {
                let one = g.lit(1.0);
                let neg = g.neg(above);
                let rest = g.add_scalar(neg, one);
                outer(g, rest, j)
            });
            add(g, t1, t2)
        }
        // a[i] is row i of J_a
        Op::Entry(i, jx) => ja.map(|j| {
            let k = if is_row(g, a) { jx } else { i };
            let one_by_one = length(g, a) == Dim::Fixed(1);
            if one_by_one {
                j
            } else {
                g.view(j, k, Index::Lit(0), Shape::new(Dim::Fixed(1), n))
            }
        }),
        // [s₀; s₁; ..]: row i of J is J_sᵢ
        Op::Stack => {
            let shape = rows(g, c);
            let mut total = None;
            for (i, js) in d.iter().enumerate() {
                if let Some(js) = js {
                    let e = g.embed(*js, Index::Lit(i), Index::Lit(0), shape);
                    total = add(g, total, Some(e));
                }
            }
            total
        }
        // d sum(a) = 1ᵀ da, d⟨a, b⟩ = aᵀ db + bᵀ da, d‖a‖² = 2 aᵀ da, d‖a‖ = aᵀ da / ‖a‖
        Op::Sum => ja.map(|j| g.row_sum(j)),
        Op::Dot => {
            let t1 = jb.map(|j| inner(g, a, j));
            let t2 = ja.map(|j| inner(g, b, j));
            add(g, t1, t2)
        }
        Op::NormSq => ja.map(|j| {
            let t = inner(g, a, j);
            let two = g.lit(2.0);
            g.scale(two, t)
        }),
        Op::Norm => ja.map(|j| {
            let t = inner(g, a, j);
            g.div(t, c)
        }),
        // A block of a vector: the same rows of J
        Op::View(i, jx) => ja.map(|j| {
            let start = if is_row(g, a) { jx } else { i };
            let shape = rows(g, c);
            g.view(j, start, Index::Lit(0), shape)
        }),
        // T⁻¹ b for a constant triangle: T⁻¹ J_b
        Op::TriSolve { upper, transpose } if ja.is_none() => {
            jb.map(|j| g.tri_solve(a, j, upper, transpose))
        }
        // max(a) is the entry at its first arg-max: that row of J_a
        Op::Extremum { max } => ja.map(|j| {
            let at = g.arg_extremum(a, max);
            inner(g, at, j)
        }),
        Op::Above | Op::ArgExtremum { .. } => None,
        _ => return Err(Unsupported),
    };
    Ok(out)
}
