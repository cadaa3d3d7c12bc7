//! The adjoint rules: one arm per operation, each beside the differential it comes from.
//!
//! For a scalar result f, the adjoint of a node C is C̄ = ∂f/∂C (the shape of C), so that
//! df = ⟨C̄, dC⟩ = tr(C̄ᵀ dC). A rule takes C̄ and returns, for each argument A, the contribution
//! Ā += … obtained by writing dC in terms of dA and moving dA to the right of the trace
//! (tr(AB) = tr(BA), tr(Aᵀ) = tr(A), tr((A⊙B)ᵀC) = tr(Aᵀ(B⊙C))) — seed 000's recipe.
//! `grad.rs` sums the contributions and skips zero ones; rules never see a zero cotangent.
//!
//! References "MC" are equation numbers of The Matrix Cookbook (Petersen & Pedersen, 2012).

use crate::ir::{Func, Graph, Index, NodeId, Op, Part};
use crate::shape::Shape;

/// The contributions of node `c` (whose adjoint is `cbar`) to the adjoints of its arguments,
/// as `(argument position, contribution)`.
pub fn adjoint(g: &mut Graph, c: NodeId, cbar: NodeId) -> Vec<(usize, NodeId)> {
    let op = g.op(c).clone();
    let args = g.args(c).to_vec();
    let a = args.first().copied().unwrap_or(c);
    let b = args.get(1).copied().unwrap_or(c);
    match op {
        // Leaves end the walk.
        Op::Param(_)
        | Op::Local(_)
        | Op::Opaque(_)
        | Op::Lit(_)
        | Op::Identity
        | Op::Ones
        | Op::Zeros
        | Op::Commutation { .. } => vec![],

        // d(−A) = −dA  ⇒  Ā += −C̄
        Op::Neg => vec![(0, g.neg(cbar))],
        // d(A + B) = dA + dB  ⇒  Ā += C̄, B̄ += C̄
        Op::Add => vec![(0, cbar), (1, cbar)],
        // d(A − B) = dA − dB  ⇒  Ā += C̄, B̄ += −C̄
        Op::Sub => vec![(0, cbar), (1, g.neg(cbar))],
        // d(Aᵀ) = (dA)ᵀ  ⇒  Ā += C̄ᵀ
        Op::Transpose => vec![(0, g.transpose(cbar))],
        // d tr(A) = tr(dA) = tr(Iᵀ dA)  ⇒  Ā += c̄ I   (MC 100)
        Op::Trace => {
            let shape = g.shape(a).expect("trace of a matrix");
            let eye = g.identity(shape);
            vec![(0, g.scale(cbar, eye))]
        }
        // d sum(A) = ⟨J, dA⟩  ⇒  Ā += c̄ J
        Op::Sum => {
            let shape = g.shape(a).expect("sum of a matrix");
            let ones = g.ones(shape);
            vec![(0, g.scale(cbar, ones))]
        }
        // d A_ij = ⟨E_ij, dA⟩  ⇒  Ā += c̄ E_ij
        Op::Entry(row, col) => {
            let shape = g.shape(a).expect("entry of a matrix");
            vec![(0, g.scatter(cbar, row, col, shape))]
        }
        // d(s E_ij) = ds E_ij  ⇒  s̄ += C̄_ij
        Op::Scatter(row, col) => vec![(0, g.entry(cbar, row, col))],
        // The part of a matrix is a projection, its own adjoint: d tril(A) = tril(dA)  ⇒
        // Ā += tril(C̄) (and likewise triu and Φ, a diagonal weighting of the entries)
        Op::Triangle(part) => vec![(0, g.triangle(part, cbar))],
        // d diag(A) = diag(dA), ⟨c̄, diag(dA)⟩ = ⟨Diag(c̄), dA⟩  ⇒  Ā += Diag(c̄)
        Op::Diagonal => vec![(0, g.from_diagonal(cbar))],
        // d Diag(v) = Diag(dv)  ⇒  v̄ += diag(C̄)
        Op::FromDiagonal => vec![(0, g.diagonal(cbar))],
        // d(1ᵀA) = 1ᵀ dA, ⟨c̄, 1ᵀdA⟩ = ⟨1 c̄, dA⟩  ⇒  Ā += c̄ repeated as every row
        Op::RowSum => vec![(0, g.repeat_row(cbar, shape_of(g, a)))],
        // d(A1) = dA 1  ⇒  Ā += c̄ repeated as every column
        Op::ColumnSum => vec![(0, g.repeat_column(cbar, shape_of(g, a)))],
        // d(1 r) = 1 dr  ⇒  r̄ += 1ᵀ C̄, the sum of the rows of C̄ (the gradient of a bias)
        Op::RepeatRow => vec![(0, g.row_sum(cbar))],
        // d(c 1ᵀ) = dc 1ᵀ  ⇒  c̄ += C̄ 1
        Op::RepeatColumn => vec![(0, g.column_sum(cbar))],
        // A view reads a block: Ā += C̄ in that block, zero elsewhere
        Op::View(r, c) => vec![(0, g.embed(cbar, r, c, shape_of(g, a)))],
        // An embedding writes a block: B̄ += that block of C̄
        Op::Embed(r, c) => vec![(0, g.view(cbar, r, c, shape_of(g, a)))],
        // d(a × b) = da × b + a × db, and ⟨c̄, da × b⟩ = ⟨da, b × c̄⟩ (the scalar triple
        // product is cyclic)  ⇒  ā += b × c̄, b̄ += c̄ × a
        Op::Cross => vec![(0, g.cross(b, cbar)), (1, g.cross(cbar, a))],
        // A reshape moves entries: Ā += C̄ put back in A's shape
        Op::Reshape => vec![(0, g.reshape(cbar, shape_of(g, a)))],
        // d(diag(d) A) = diag(dd) A + diag(d) dA  ⇒  d̄ += (C̄ ⊙ A) 1, Ā += diag(d) C̄
        Op::RowScale => {
            let ca = g.mul(cbar, b);
            vec![(0, g.column_sum(ca)), (1, g.row_scale(a, cbar))]
        }
        // X = kron_adj_left(C̄, B) is linear in C̄ and in B; its adjoint map is C̄ ↦ X̄ ⊗ B,
        // and in B it is the right adjoint: B̄ += kron_adj_right(C̄, X̄).
        Op::KronAdjLeft => {
            let (sc, sb) = (g.shape(a).expect("matrix"), g.shape(b).expect("matrix"));
            vec![(0, g.kron(cbar, b, sc)), (1, g.kron_adj_right(a, cbar, sb))]
        }
        // Y = kron_adj_right(C̄, A): adjoint C̄ ↦ A ⊗ Ȳ, and in A, A ↦ kron_adj_left(C̄, Ȳ).
        Op::KronAdjRight => {
            let (sc, sa) = (g.shape(a).expect("matrix"), g.shape(b).expect("matrix"));
            vec![(0, g.kron(b, cbar, sc)), (1, g.kron_adj_left(a, cbar, sa))]
        }

        // d(AB) = dA B + A dB  ⇒  Ā += C̄ Bᵀ, B̄ += Aᵀ C̄   (seed 000, MC 37)
        Op::MatMul => {
            let bt = g.transpose(b);
            let at = g.transpose(a);
            vec![(0, g.matmul(cbar, bt)), (1, g.matmul(at, cbar))]
        }
        // d(sA) = ds A + s dA  ⇒  s̄ += ⟨C̄, A⟩, Ā += s C̄
        Op::Scale => vec![(0, g.dot(cbar, b)), (1, g.scale(a, cbar))],
        // d(A ⊙ B) = dA ⊙ B + A ⊙ dB  ⇒  Ā += C̄ ⊙ B, B̄ += C̄ ⊙ A   (seed 000, rule 5)
        Op::Mul => vec![(0, g.mul(cbar, b)), (1, g.mul(cbar, a))],
        // d(A ⊗ B) = dA ⊗ B + A ⊗ dB  ⇒  Ā_ij += ⟨C̄ block (i, j), B⟩, B̄ += Σ_ij A_ij C̄ block (i, j)
        Op::Kron => {
            let (sa, sb) = (g.shape(a).expect("matrix"), g.shape(b).expect("matrix"));
            vec![
                (0, g.kron_adj_left(cbar, b, sa)),
                (1, g.kron_adj_right(cbar, a, sb)),
            ]
        }
        // d⟨A, B⟩ = ⟨dA, B⟩ + ⟨A, dB⟩  ⇒  Ā += c̄ B, B̄ += c̄ A   (seed 004, inner product)
        Op::Dot => vec![(0, g.times(cbar, b)), (1, g.times(cbar, a))],

        // d(A ⊘ B) = dA ⊘ B − C ⊙ dB ⊘ B  ⇒  Ā += C̄ ⊘ B, B̄ += −⟨C̄ ⊙ C ⊘ B⟩
        // (for a matrix over a scalar s: Ā += C̄ / s, s̄ += −⟨C̄, C⟩ / s)
        Op::Div => {
            let da = g.div(cbar, b);
            let cc = if g.ty(b).is_matrix() {
                g.mul(cbar, c)
            } else {
                g.dot(cbar, c)
            };
            let q = g.div(cc, b);
            vec![(0, da), (1, g.neg(q))]
        }
        // d(A⁻¹) = −A⁻¹ dA A⁻¹  ⇒  Ā += −Cᵀ C̄ Cᵀ   (seed 000, rule 7; MC 59)
        Op::Inverse => {
            let ct = g.transpose(c);
            let left = g.matmul(ct, cbar);
            let prod = g.matmul(left, ct);
            vec![(0, g.neg(prod))]
        }
        // d det(A) = det(A) tr(A⁻¹ dA)  ⇒  Ā += c̄ det(A) A⁻ᵀ   (seed 000, rule 8; MC 49)
        Op::Det => {
            let inv = g.inverse(a);
            let inv_t = g.transpose(inv);
            let factor = g.mul(cbar, c);
            vec![(0, g.scale(factor, inv_t))]
        }
        // d‖A‖² = 2⟨A, dA⟩  ⇒  Ā += 2 c̄ A
        Op::NormSq => {
            let two = g.lit(2.0);
            let k = g.mul(two, cbar);
            vec![(0, g.times(k, a))]
        }
        // d‖A‖ = ⟨A, dA⟩ / ‖A‖  ⇒  Ā += (c̄ / ‖A‖) A
        Op::Norm => {
            let k = g.div(cbar, c);
            vec![(0, g.times(k, a))]
        }
        // d ln(A) = dA ⊘ A  ⇒  Ā += C̄ ⊘ A
        Op::Elem(Func::Ln) => vec![(0, g.div(cbar, a))],
        // d f(A) = f′(A) ⊙ dA  ⇒  Ā += C̄ ⊙ f′(A)   (entrywise; the ordinary chain rule for scalars)
        Op::Elem(f) => {
            let fprime = derivative(g, f, a, c);
            vec![(0, g.mul(cbar, fprime))]
        }
        // d(A^k) = k A^(k−1) ⊙ dA
        Op::Powi(k) => {
            let fprime = powi_derivative(g, a, k);
            vec![(0, g.mul(cbar, fprime))]
        }
        // d(A^s) = s A^(s−1) ⊙ dA + ln(A) ⊙ A^s ds  ⇒  Ā += C̄ ⊙ s A^(s−1), s̄ += ⟨C̄, C ⊙ ln A⟩
        Op::Powf => {
            let fprime = powf_derivative(g, a, b);
            let ln = g.elem(Func::Ln, a);
            let cl = g.mul(c, ln);
            vec![(0, g.mul(cbar, fprime)), (1, g.dot(cbar, cl))]
        }
        // d(A + s J) = dA + ds J  ⇒  Ā += C̄, s̄ += sum(C̄)
        Op::AddScalar => vec![(0, cbar), (1, g.sum(cbar))],
        // C = T⁻¹B: dC = T⁻¹(dB − dT C) with dT in T's triangle  ⇒  B̄ += T⁻ᵀ C̄,
        // T̄ += tril(−B̄ Cᵀ). C = T⁻ᵀB: dC = T⁻ᵀ(dB − dTᵀ C)  ⇒  B̄ += T⁻¹ C̄, T̄ += tril(−C B̄ᵀ)
        // (triu for an upper triangle): the same factor solves, transposed.
        Op::TriSolve { upper, transpose } => {
            let bbar = g.tri_solve(a, cbar, upper, !transpose);
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
        // A = L Lᵀ (A read from its lower triangle): dL = L Φ(L⁻¹ dÂ L⁻ᵀ) with
        // dÂ = Φ(dA) + Φ(dA)ᵀ. Since Φ is self-adjoint, ⟨L̄, dL⟩ = ⟨S, dÂ⟩ with
        // S = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹  ⇒  Ā += Φ(S + Sᵀ)   (Murray 2016, "Differentiation of the
        // Cholesky decomposition"); two triangular solves with the factor, no inverse.
        Op::Cholesky => {
            let lt = g.transpose(c);
            let p = g.matmul(lt, cbar);
            let p = g.triangle(Part::LowerHalf, p);
            let s = g.congruence_by_inverse_transpose(c, p);
            let st = g.transpose(s);
            let sym = g.add(s, st);
            vec![(0, g.triangle(Part::LowerHalf, sym))]
        }
        // d max(A) = dA at the first largest entry  ⇒  Ā += c̄ at that entry (a subgradient)
        Op::Extremum { max } => {
            let at = g.arg_extremum(a, max);
            vec![(0, g.scale(cbar, at))]
        }
        Op::ArgExtremum { .. } => vec![],
        // d max(A, c) = [A > c] ⊙ dA + (1 − [A > c]) dc  (the subgradient 0 where A = c)
        Op::Max | Op::Min => {
            let above = kink(g, op == Op::Max, a, b);
            let da = g.mul(cbar, above);
            let rest = g.sub(cbar, da);
            vec![(0, da), (1, g.sum(rest))]
        }
        // [A > c] is piecewise constant: no contribution.
        Op::Above => vec![],
        // d(Aᵏ) = Σⱼ Aʲ dA Aᵏ⁻¹⁻ʲ  ⇒  Ā += Σⱼ (Aʲ)ᵀ C̄ (Aᵏ⁻¹⁻ʲ)ᵀ   (MC 91)
        Op::MatPow(k) => {
            let terms = power_terms(g, a, k, |g, left, right| {
                let (lt, rt) = (g.transpose(left), g.transpose(right));
                let m = g.matmul(lt, cbar);
                g.matmul(m, rt)
            });
            terms.map(|t| vec![(0, t)]).unwrap_or_default()
        }
        // d[s₀; s₁; ..] = [ds₀; ds₁; ..]  ⇒  s̄ᵢ += C̄ᵢ
        Op::Stack => (0..args.len())
            .map(|i| (i, g.entry(cbar, Index::Lit(i), Index::Lit(0))))
            .collect(),
    }
}

/// The forward differential of node `c`: dC as an expression linear in the differentials of its
/// arguments (`None` where an argument's differential is zero), or `None` if dC is zero. These
/// are seed 000's rules read left to right; `grad.rs` applies them to every node in order.
pub fn tangent(g: &mut Graph, c: NodeId, d: &[Option<NodeId>]) -> Option<NodeId> {
    let op = g.op(c).clone();
    let args = g.args(c).to_vec();
    let a = args.first().copied().unwrap_or(c);
    let b = args.get(1).copied().unwrap_or(c);
    let da = d.first().copied().flatten();
    let db = d.get(1).copied().flatten();
    // Σ of the terms that are not zero.
    let sum = |g: &mut Graph, terms: Vec<Option<NodeId>>| -> Option<NodeId> {
        terms.into_iter().flatten().reduce(|x, y| g.add(x, y))
    };
    // The product rule of an operation f linear in each argument (JAX's bilinear rules):
    // d f(A, B) = f(dA, B) + f(A, dB).
    let bilinear =
        |g: &mut Graph, f: &dyn Fn(&mut Graph, NodeId, NodeId) -> NodeId| -> Option<NodeId> {
            let t1 = da.map(|x| f(g, x, b));
            let t2 = db.map(|y| f(g, a, y));
            match (t1, t2) {
                (Some(x), Some(y)) => Some(g.add(x, y)),
                (x, y) => x.or(y),
            }
        };
    let ty = g.ty(c);
    let out = match op {
        Op::Param(_)
        | Op::Local(_)
        | Op::Opaque(_)
        | Op::Lit(_)
        | Op::Identity
        | Op::Ones
        | Op::Zeros
        | Op::Commutation { .. } => None,
        // d(−A) = −dA
        Op::Neg => da.map(|x| g.neg(x)),
        // d(A ± B) = dA ± dB
        Op::Add => sum(g, vec![da, db]),
        Op::Sub => {
            let ndb = db.map(|x| g.neg(x));
            sum(g, vec![da, ndb])
        }
        // d(Aᵀ) = (dA)ᵀ, d tr(A) = tr(dA), d sum(A) = sum(dA), d A_ij = (dA)_ij
        Op::Transpose => da.map(|x| g.transpose(x)),
        Op::Trace => da.map(|x| g.trace(x)),
        Op::Sum => da.map(|x| g.sum(x)),
        Op::Entry(i, j) => da.map(|x| g.entry(x, i, j)),
        Op::Scatter(i, j) => {
            let shape = ty.shape()?;
            da.map(|x| g.scatter(x, i, j, shape))
        }
        // Linear maps: the differential is the map applied to the differential.
        Op::Triangle(part) => da.map(|x| g.triangle(part, x)),
        Op::Diagonal => da.map(|x| g.diagonal(x)),
        Op::FromDiagonal => da.map(|x| g.from_diagonal(x)),
        Op::RowSum => da.map(|x| g.row_sum(x)),
        Op::ColumnSum => da.map(|x| g.column_sum(x)),
        Op::RepeatRow => da.map(|x| g.repeat_row(x, ty.shape().unwrap_or_else(|| shape_of(g, c)))),
        Op::RepeatColumn => {
            da.map(|x| g.repeat_column(x, ty.shape().unwrap_or_else(|| shape_of(g, c))))
        }
        Op::View(r, cc) => da.map(|x| g.view(x, r, cc, shape_of(g, c))),
        Op::Embed(r, cc) => da.map(|x| g.embed(x, r, cc, shape_of(g, c))),
        // d(a × b) = da × b + a × db
        Op::Cross => bilinear(g, &|g, x, y| g.cross(x, y)),
        Op::Reshape => da.map(|x| g.reshape(x, shape_of(g, c))),
        // d(diag(d) A) = diag(dd) A + diag(d) dA
        Op::RowScale => bilinear(g, &|g, x, y| g.row_scale(x, y)),
        // Linear in each argument.
        Op::KronAdjLeft | Op::KronAdjRight => {
            let shape = ty.shape()?;
            let left = op == Op::KronAdjLeft;
            let mk = |g: &mut Graph, x: NodeId, y: NodeId| {
                if left {
                    g.kron_adj_left(x, y, shape)
                } else {
                    g.kron_adj_right(x, y, shape)
                }
            };
            bilinear(g, &mk)
        }
        // d(AB) = dA B + A dB
        Op::MatMul => bilinear(g, &|g, x, y| g.matmul(x, y)),
        // d(sA) = ds A + s dA
        Op::Scale => bilinear(g, &|g, x, y| g.scale(x, y)),
        // d(A ⊙ B) = dA ⊙ B + A ⊙ dB
        Op::Mul => bilinear(g, &|g, x, y| g.mul(x, y)),
        // d(A ⊗ B) = dA ⊗ B + A ⊗ dB
        Op::Kron => {
            let shape = ty.shape()?;
            bilinear(g, &|g, x, y| g.kron(x, y, shape))
        }
        // d⟨A, B⟩ = ⟨dA, B⟩ + ⟨A, dB⟩
        Op::Dot => bilinear(g, &|g, x, y| g.dot(x, y)),
        // d(A ⊘ B) = dA ⊘ B − C ⊙ dB ⊘ B (B a matrix or a scalar)
        Op::Div => {
            let t1 = da.map(|x| g.div(x, b));
            let t2 = db.map(|y| {
                let cy = g.times(c, y);
                let q = g.div(cy, b);
                g.neg(q)
            });
            sum(g, vec![t1, t2])
        }
        // d(A⁻¹) = −A⁻¹ dA A⁻¹
        Op::Inverse => da.map(|x| {
            let left = g.matmul(c, x);
            let p = g.matmul(left, c);
            g.neg(p)
        }),
        // d det(A) = det(A) tr(A⁻¹ dA) = det(A) ⟨A⁻ᵀ, dA⟩
        Op::Det => da.map(|x| {
            let inv = g.inverse(a);
            let inv_t = g.transpose(inv);
            let t = g.dot(inv_t, x);
            g.mul(c, t)
        }),
        // d‖A‖² = 2⟨A, dA⟩
        Op::NormSq => da.map(|x| {
            let two = g.lit(2.0);
            let t = g.dot(a, x);
            g.mul(two, t)
        }),
        // d‖A‖ = ⟨A, dA⟩ / ‖A‖
        Op::Norm => da.map(|x| {
            let t = g.dot(a, x);
            g.div(t, c)
        }),
        // d ln(A) = dA ⊘ A
        Op::Elem(Func::Ln) => da.map(|x| g.div(x, a)),
        // d f(A) = f′(A) ⊙ dA
        Op::Elem(f) => da.map(|x| {
            let fp = derivative(g, f, a, c);
            g.mul(fp, x)
        }),
        // d(A^k) = k A^(k−1) ⊙ dA
        Op::Powi(k) => da.map(|x| {
            let fp = powi_derivative(g, a, k);
            g.mul(fp, x)
        }),
        // d(A^s) = s A^(s−1) ⊙ dA + C ⊙ ln(A) ds
        Op::Powf => {
            let t1 = da.map(|x| {
                let fp = powf_derivative(g, a, b);
                g.mul(fp, x)
            });
            let t2 = db.map(|y| {
                let ln = g.elem(Func::Ln, a);
                let cl = g.mul(c, ln);
                g.times(y, cl)
            });
            sum(g, vec![t1, t2])
        }
        // d(A + s J) = dA + ds J
        Op::AddScalar => match (da, db) {
            (Some(x), Some(y)) => Some(g.add_scalar(x, y)),
            (Some(x), None) => Some(x),
            (None, Some(y)) => {
                let ones = g.ones(ty.shape()?);
                Some(g.scale(y, ones))
            }
            (None, None) => None,
        },
        // d(T⁻¹B) = T⁻¹(dB − dT C), d(T⁻ᵀB) = T⁻ᵀ(dB − dTᵀ C), dT in T's triangle
        Op::TriSolve { upper, transpose } => {
            let part = if upper { Part::Upper } else { Part::Lower };
            let moved = da.map(|x| {
                let dt = g.triangle(part, x);
                let dt = if transpose { g.transpose(dt) } else { dt };
                g.matmul(dt, c)
            });
            let rhs = match (db, moved) {
                (Some(y), Some(m)) => Some(g.sub(y, m)),
                (Some(y), None) => Some(y),
                (None, Some(m)) => Some(g.neg(m)),
                (None, None) => None,
            };
            rhs.map(|r| g.tri_solve(a, r, upper, transpose))
        }
        // dL = L Φ(L⁻¹ (Φ(dA) + Φ(dA)ᵀ) L⁻ᵀ)
        Op::Cholesky => da.map(|x| {
            let half = g.triangle(Part::LowerHalf, x);
            let half_t = g.transpose(half);
            let sym = g.add(half, half_t);
            let inner = g.congruence_by_inverse(c, sym);
            let phi = g.triangle(Part::LowerHalf, inner);
            g.matmul(c, phi)
        }),
        // d max(A) = ⟨[first largest entry], dA⟩
        Op::Extremum { max } => da.map(|x| {
            let at = g.arg_extremum(a, max);
            g.dot(at, x)
        }),
        Op::ArgExtremum { .. } => None,
        // d max(A, c) = [A > c] ⊙ dA + (1 − [A > c]) dc
        Op::Max | Op::Min => {
            let above = kink(g, op == Op::Max, a, b);
            let t1 = da.map(|x| g.mul(above, x));
            let t2 = db.map(|y| {
                let one = g.lit(1.0);
                let neg = g.neg(above);
                let rest = g.add_scalar(neg, one);
                g.times(y, rest)
            });
            sum(g, vec![t1, t2])
        }
        Op::Above => None,
        // d(Aᵏ) = Σⱼ Aʲ dA Aᵏ⁻¹⁻ʲ
        Op::MatPow(k) => da.map(|x| {
            let terms = power_terms(g, a, k, |g, left, right| {
                let m = g.matmul(left, x);
                g.matmul(m, right)
            });
            terms.unwrap_or(x)
        }),
        // d[s₀; s₁; ..] = [ds₀; ds₁; ..]
        Op::Stack => {
            let parts: Vec<NodeId> = d.iter().map(|x| x.unwrap_or_else(|| g.lit(0.0))).collect();
            Some(g.node(Op::Stack, parts, ty))
        }
    };
    out.filter(|&n| !g.is_zero(n))
}

/// k aᵏ⁻¹, the derivative of aᵏ (entrywise).
pub(crate) fn powi_derivative(g: &mut Graph, a: NodeId, k: i32) -> NodeId {
    let p = g.powi(a, k - 1);
    let kk = g.lit(f64::from(k));
    g.times(kk, p)
}

/// s aˢ⁻¹, the derivative of aˢ in a (entrywise).
pub(crate) fn powf_derivative(g: &mut Graph, a: NodeId, s: NodeId) -> NodeId {
    let one = g.lit(1.0);
    let s1 = g.sub(s, one);
    let p = g.powf(a, s1);
    g.times(s, p)
}

/// [a > c] for max(a, c), [a < c] for min(a, c): where the first argument is taken (the
/// subgradient 0 at the kink).
pub(crate) fn kink(g: &mut Graph, max: bool, a: NodeId, c: NodeId) -> NodeId {
    if max {
        g.above(a, c)
    } else {
        g.below(a, c)
    }
}

/// The shape of a matrix node (every structural operation's argument is one).
fn shape_of(g: &Graph, a: NodeId) -> Shape {
    g.shape(a).unwrap_or(Shape::new(
        crate::shape::Dim::Fixed(1),
        crate::shape::Dim::Fixed(1),
    ))
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

/// f′(A) for an entrywise function, reusing C = f(A) where the derivative is a function of it.
pub(crate) fn derivative(g: &mut Graph, f: Func, a: NodeId, c: NodeId) -> NodeId {
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
