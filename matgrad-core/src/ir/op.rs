//! The operations of the expression graph: the single list every other phase matches on.
//!
//! Each phase has one exhaustive `match` over it: `rules::of` (the derivatives), `emit/node.rs`
//! (nalgebra code), `pretty` (the formula), `eval.rs` (the interpreter); `docs/ARCHITECTURE.md`
//! lists them as the checklist for a new operation.

/// A scalar function applied to a scalar, or entry by entry to a matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Func {
    // In the order of the vocabulary table (`vocabulary::FUNCTIONS`), which is indexed by it.
    Exp,
    ExpM1,
    Ln,
    Ln1p,
    Log10,
    Log2,
    Sqrt,
    Sin,
    Cos,
    Tanh,
    Abs,
    /// Rust's `signum` (1 at +0), as the user writes it; its derivative is zero.
    Signum,
    Recip,
    /// sign(v) with sign(0) = 0: the derivative of `abs`; its own derivative is zero.
    Sign,
    /// The logistic function 1/(1 + e⁻ᵛ): the derivative of ln(1 + eᵛ).
    Sigmoid,
    /// ln(1 + eᵛ), as the stable form `v.max(0.0) + (-v.abs()).exp().ln_1p()` that users write:
    /// one smooth function, whose derivative σ(v) is right at v = 0 where the two kinks of
    /// the written form (max and abs) would each contribute a subgradient.
    Softplus,
}

impl Func {
    /// Its name (the Rust method's, where users write one): from the vocabulary table,
    /// `ir/vocabulary.rs`.
    pub fn method(self) -> &'static str {
        super::vocabulary::function_of(self).name
    }

    /// The function a user's method names (`exp`), from the vocabulary table.
    pub fn from_method(name: &str) -> Option<Func> {
        super::vocabulary::function_named(name)
    }
}

/// The part of a square matrix that a triangular operation keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    /// The lower triangle, diagonal included (`tril`).
    Lower,
    /// The upper triangle, diagonal included (`triu`).
    Upper,
    /// Φ: the strict lower triangle and half the diagonal, the map in the Cholesky factor's
    /// differential dL = L Φ(L⁻¹ dA L⁻ᵀ).
    LowerHalf,
}

/// A constant index into a matrix (`m[(i, j)]`, `v[i]`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Index {
    /// An integer literal.
    Lit(usize),
    /// Any other expression that does not depend on a variable: the code generated functions
    /// evaluate, and the text formulas show.
    Expr { code: String, text: String },
}

/// A comparison in a condition (`a < b`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Cmp {
    /// The operator as Rust writes it.
    pub fn rust(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
        }
    }

    /// The operator as formulas print it.
    pub fn printed(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "≤",
            Cmp::Gt => ">",
            Cmp::Ge => "≥",
            Cmp::Eq => "=",
            Cmp::Ne => "≠",
        }
    }

    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
        }
    }
}

/// An operation. Arguments are listed per variant as `[a, b]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    // ---- leaves ----------------------------------------------------------------------------
    /// Parameter number `n` of the user's function (a variable if it is listed in `wrt`).
    Param(usize),
    /// A constant `let` of the user's body, emitted as written; `n` indexes the lets.
    Local(usize),
    /// A constant sub-expression copied through as written; `n` indexes the opaque table.
    Opaque(usize),
    /// A float literal, stored by its bits so that the op can be hashed.
    Lit(u64),
    /// The identity matrix of the node's shape (`I`).
    Identity,
    /// The all-ones matrix of the node's shape (`J`).
    Ones,
    /// The zero matrix of the node's shape.
    Zeros,
    /// The commutation matrix K of the node's (rc × rc) shape for matrices with `rows` rows:
    /// K vec(A) = vec(Aᵀ). Applied by permuting rows, built only when it is the result.
    Commutation { rows: crate::shape::Dim },

    // ---- linear --------------------------------------------------------------------------
    /// `[a]`: −a
    Neg,
    /// `[a, b]`: a + b (both scalars or both matrices of one shape)
    Add,
    /// `[a, b]`: a − b
    Sub,
    /// `[a]`: aᵀ
    Transpose,
    /// `[a]`: tr(a)
    Trace,
    /// `[a]`: the sum of the entries of a
    Sum,
    /// `[a]`: the entry a[(row, col)]
    Entry(Index, Index),
    /// `[s]`: the matrix of the node's shape that is s at (row, col) and zero elsewhere
    Scatter(Index, Index),
    /// `[a]`: the part of a square a (tril, triu, Φ), zero elsewhere
    Triangle(Part),
    /// `[a]`: the diagonal of a square a as a column vector (`a.diagonal()`)
    Diagonal,
    /// `[v]`: the square matrix with the column v on its diagonal (`Matrix::from_diagonal(&v)`)
    FromDiagonal,
    /// `[a]`: the row of column sums 1ᵀa (`a.row_sum()`)
    RowSum,
    /// `[a]`: the column of row sums a 1 (`a.column_sum()`)
    ColumnSum,
    /// `[r]`: the row r repeated as every row of the node's shape, 1 r (a bias added to each row)
    RepeatRow,
    /// `[c]`: the column c repeated as every column of the node's shape, c 1ᵀ
    RepeatColumn,
    /// `[a]`: the block of a of the node's shape whose top-left entry is a[(row, col)]
    View(Index, Index),
    /// `[b]`: the matrix of the node's shape that is b from (row, col) on and zero elsewhere
    Embed(Index, Index),
    /// `[cbar, b]`: the adjoint of a ⊗ b with respect to a: X_ij = ⟨cbar block (i, j), b⟩
    KronAdjLeft,
    /// `[cbar, a]`: the adjoint of a ⊗ b with respect to b: X = Σ_ij a_ij · cbar block (i, j)
    KronAdjRight,

    // ---- bilinear ------------------------------------------------------------------------
    /// `[a, b]`: the matrix product a b
    MatMul,
    /// `[s, a]`: a scalar times a matrix, s a
    Scale,
    /// `[a, b]`: the entrywise product a ⊙ b (for scalars, the ordinary product)
    Mul,
    /// `[a, b]`: the Kronecker product a ⊗ b
    Kron,
    /// `[a]`: the entries of a, column by column, in the node's shape (vec(a) for a column)
    Reshape,
    /// `[a, b]`: the cross product a × b of two 3-vectors
    Cross,
    /// `[d, a]`: diag(d) a, each row i of a scaled by d_i (d a column); never builds diag(d)
    RowScale,
    /// `[a, b]`: the inner product ⟨a, b⟩ = Σ a_ij b_ij (`a.dot(&b)`)
    Dot,

    // ---- nonlinear -----------------------------------------------------------------------
    /// `[a, b]`: a ⊘ b entrywise, or a matrix divided by a scalar
    Div,
    /// `[a]`: a⁻¹
    Inverse,
    /// `[a]`: det(a)
    Det,
    /// `[a]`: ‖a‖² (Frobenius)
    NormSq,
    /// `[a]`: ‖a‖ (Frobenius)
    Norm,
    /// `[a]`: f(a), entrywise for matrices
    Elem(Func),
    /// `[a]`: a^k entrywise, k an integer
    Powi(i32),
    /// `[a, c]`: a^c entrywise, c a scalar
    Powf,
    /// `[a, s]`: a with s added to every entry (`a.add_scalar(s)`)
    AddScalar,
    /// `[s₀, s₁, ..]`: the column vector of the scalars (`Vector3::new(a, b, c)`)
    Stack,
    /// `[a, c]`: max(a, c) entrywise, c a scalar (`v.max(0.0)`)
    Max,
    /// `[a, c]`: min(a, c) entrywise
    Min,
    /// `[a, c]`: 1 where a > c and 0 elsewhere, entrywise (the derivative of max)
    Above,
    /// `[t, b]`: T⁻¹ b, or T⁻ᵀ b if `transpose`, for T the lower (or `upper`) triangle of t
    /// (`solve_lower_triangular` and friends; the other triangle is not read)
    TriSolve { upper: bool, transpose: bool },
    /// `[a]`: the Cholesky factor L, lower triangular with L Lᵀ = a; reads the lower triangle
    /// of a, as nalgebra does
    Cholesky,
    /// `[a]`: the largest entry of a (`max: true`, `a.max()`) or the smallest (`a.min()`)
    Extremum { max: bool },
    /// `[a]`: 1 at the first largest (smallest) entry of a in storage order, 0 elsewhere: the
    /// subgradient of `Extremum`, itself piecewise constant
    ArgExtremum { max: bool },
    /// `[a]`: the matrix power aᵏ, k ≥ 2, of a square matrix (`x * x * x`)
    MatPow(u32),
    /// `[a, b]`: 1 where a `cmp` b holds and 0 elsewhere, entrywise (a condition; either
    /// argument may be a scalar compared with every entry of the other)
    Compare(Cmp),
    /// `[k, a]`: k a (with `transposed`, kᵀ a) for a constant k whose kind only the compiler
    /// knows, such as a field `self.k`: a scaling if it is a scalar, a matrix product if it is a
    /// matrix. Generated code multiplies through `matgrad::__private::Times`, so rustc picks.
    KindProduct { transposed: bool },
    /// `[m, a, b]`: a where m ≠ 0 and b elsewhere (a branch: `if`/`else`, `match`), entrywise
    /// for a matrix m, or the whole of a or b for a scalar m
    Select,

    // ---- loops (`ir/loops.rs`) -------------------------------------------------------------
    /// A carried value of loop `lp` at the start of an iteration: carry `index` of the loop (a
    /// leaf bound anew each iteration). `active` is part of the key: lowering reads a body again
    /// when it finds that a carry it took for a constant depends on a variable.
    Carry {
        lp: usize,
        index: usize,
        active: bool,
    },
    /// `[init₀, .., captures..]` (`Loop::args`): carry `out` of loop `lp` after its last
    /// iteration.
    LoopOut { lp: usize, out: usize },
    /// `[outs of the forward loop.., seeds..]`: the adjoint of argument `arg` of the forward loop
    /// of the adjoint loop `lp`, after `lp` ran; the seeds are the adjoints of the forward
    /// loop's results.
    LoopAdjoint { lp: usize, arg: usize },
}

impl Op {
    pub fn lit(value: f64) -> Op {
        // One zero: -0.0 and 0.0 are the same constant for our purposes.
        let value = if value == 0.0 { 0.0 } else { value };
        Op::Lit(value.to_bits())
    }

    pub fn lit_value(&self) -> Option<f64> {
        match self {
            Op::Lit(bits) => Some(f64::from_bits(*bits)),
            _ => None,
        }
    }

    pub fn is_leaf(&self) -> bool {
        matches!(
            self,
            Op::Param(_)
                | Op::Local(_)
                | Op::Opaque(_)
                | Op::Lit(_)
                | Op::Identity
                | Op::Ones
                | Op::Zeros
                | Op::Commutation { .. }
                | Op::Carry { .. }
        )
    }
}
