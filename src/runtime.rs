//! The run-time helpers that generated code calls (`matgrad::__private::…`): scalar functions
//! with stable derivatives, in-place and structured matrix kernels (Kronecker products with an
//! identity, commutation, row scaling, Aᵀ B without a copy) and an LU factorisation kept for
//! solves. Not part of the public API; re-exported as `matgrad::__private`.

use crate::nalgebra;
use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, Matrix, OMatrix, RawStorage, RealField, Scalar};

/// sign(v), with sign(0) = 0: the subgradient of |v| that is zero at the kink.
/// NaN stays NaN.
pub fn sign<T: RealField + Copy>(v: T) -> T {
    if v > T::zero() {
        T::one()
    } else if v < T::zero() {
        -T::one()
    } else {
        v * T::zero()
    }
}

/// The logistic function 1/(1 + e⁻ᵛ), computed so that it neither overflows nor loses
/// precision for large |v|.
pub fn sigmoid<T: RealField + Copy>(v: T) -> T {
    // e⁻ᵛ overflows to ∞ for very negative v, and 1/(1 + ∞) = 0: no branch needed.
    T::one() / (T::one() + (-v).exp())
}

/// ln(1 + eᵛ) without overflow: max(v, 0) + ln(1 + e^−|v|).
pub fn softplus<T: RealField + Copy>(v: T) -> T {
    v.max(T::zero()) + (-v.abs()).exp().ln_1p()
}

/// The matrix power xᵏ (k ≥ 1) by repeated squaring: ⌊log₂ k⌋ squarings and at most as
/// many further products, the first of them on x itself (no copy of x). Large dynamic `f64`
/// matrices are multiplied by faer (`crate::kernels::gemm`), others by nalgebra.
pub fn matrix_power<T, D, S>(x: &Matrix<T, D, D, S>, k: u32) -> OMatrix<T, D, D>
where
    T: RealField + Copy,
    D: Dim,
    S: nalgebra::Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D>,
{
    // `None` stands for x itself.
    let mul = |a: Option<&OMatrix<T, D, D>>, b: Option<&OMatrix<T, D, D>>| -> OMatrix<T, D, D> {
        #[cfg(feature = "faer")]
        if let Some(p) = faer_product(x, a, b) {
            return p;
        }
        match (a, b) {
            (None, None) => x * x,
            (None, Some(b)) => x * b,
            (Some(a), None) => a * x,
            (Some(a), Some(b)) => a * b,
        }
    };
    let mut base: Option<OMatrix<T, D, D>> = None;
    let mut result: Option<Option<OMatrix<T, D, D>>> = None;
    let mut k = k;
    loop {
        if k & 1 == 1 {
            result = Some(match result {
                None if k == 1 => base.take(),
                None => base.clone(),
                Some(r) => Some(mul(r.as_ref(), base.as_ref())),
            });
        }
        k >>= 1;
        if k == 0 {
            break;
        }
        base = Some(mul(base.as_ref(), base.as_ref()));
    }
    match result.flatten() {
        Some(r) => r,
        None => x.clone_owned(),
    }
}

/// a b for a matrix power (`None` is x itself), by faer where x is a large dynamic `f64`
/// matrix stored in one run of memory.
#[cfg(feature = "faer")]
fn faer_product<T, D, S>(
    x: &Matrix<T, D, D, S>,
    a: Option<&OMatrix<T, D, D>>,
    b: Option<&OMatrix<T, D, D>>,
) -> Option<OMatrix<T, D, D>>
where
    T: RealField + Copy,
    D: Dim,
    S: nalgebra::Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D>,
{
    let n = x.nrows();
    if D::try_to_usize().is_some() || !is_f64::<T>() || n < crate::kernels::GEMM_FROM {
        return None;
    }
    let xs = as_f64_slice(x.as_slice_contiguous()?);
    let (a, b) = (
        a.map_or(xs, |m| as_f64_slice(m.as_slice())),
        b.map_or(xs, |m| as_f64_slice(m.as_slice())),
    );
    let op = |data| crate::kernels::Operand {
        data,
        rows: n,
        cols: n,
        transposed: false,
    };
    let mut out = vec![0.0; n * n];
    crate::kernels::gemm(&mut out, op(a), op(b));
    let (r, c) = x.shape_generic();
    Some(OMatrix::from_vec_generic(r, c, from_f64_vec(out)))
}

/// Φ(x): the strict lower triangle of a square matrix and half its diagonal, zero above
/// (the map in the differential of the Cholesky factor).
pub fn lower_half<T, D, S>(x: &Matrix<T, D, D, S>) -> OMatrix<T, D, D>
where
    T: RealField + Copy,
    D: Dim,
    S: nalgebra::Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D>,
{
    let mut m = x.lower_triangle();
    let half = nalgebra::convert::<f64, T>(0.5);
    for i in 0..m.nrows().min(m.ncols()) {
        m[(i, i)] *= half;
    }
    m
}

/// diag(d) A: row i of A scaled by dᵢ, in place for a temporary, in one pass for a
/// borrowed matrix (no copy first).
pub fn row_scale<T, R, C, S1, M>(d: &Matrix<T, R, nalgebra::U1, S1>, a: M) -> OMatrix<T, R, C>
where
    T: RealField + Copy,
    R: Dim,
    C: Dim,
    S1: nalgebra::Storage<T, R, nalgebra::U1> + nalgebra::IsContiguous,
    M: MatrixArg<T, R, C>,
    DefaultAllocator: Allocator<R, C>,
{
    a.scale_rows(d.as_slice())
}

/// −A, in place for a temporary (nalgebra's `-A` goes through a generic iterator that
/// does not vectorise).
pub fn neg<T, R, C, M>(a: M) -> OMatrix<T, R, C>
where
    T: RealField + Copy,
    R: Dim,
    C: Dim,
    M: MatrixArg<T, R, C>,
    DefaultAllocator: Allocator<R, C>,
{
    a.map_entries(|v| -v)
}

/// A matrix argument given by value (a temporary, changed in place) or by reference (read
/// once into a new matrix).
pub trait MatrixArg<T: Scalar, R: Dim, C: Dim>
where
    DefaultAllocator: Allocator<R, C>,
{
    fn map_entries(self, f: impl FnMut(T) -> T) -> OMatrix<T, R, C>;
    fn scale_rows(self, d: &[T]) -> OMatrix<T, R, C>;
}

impl<T: RealField + Copy, R: Dim, C: Dim> MatrixArg<T, R, C> for OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    fn map_entries(mut self, mut f: impl FnMut(T) -> T) -> OMatrix<T, R, C> {
        for v in self.as_mut_slice() {
            *v = f(*v);
        }
        self
    }

    fn scale_rows(mut self, d: &[T]) -> OMatrix<T, R, C> {
        let r = self.nrows();
        if r > 0 {
            for col in self.as_mut_slice().chunks_exact_mut(r) {
                for (v, di) in col.iter_mut().zip(d) {
                    *v *= *di;
                }
            }
        }
        self
    }
}

impl<T, R, C, S> MatrixArg<T, R, C> for &Matrix<T, R, C, S>
where
    T: RealField + Copy,
    R: Dim,
    C: Dim,
    S: nalgebra::Storage<T, R, C> + nalgebra::IsContiguous,
    DefaultAllocator: Allocator<R, C>,
{
    fn map_entries(self, mut f: impl FnMut(T) -> T) -> OMatrix<T, R, C> {
        let (r, c) = self.shape_generic();
        let v: Vec<T> = self.as_slice().iter().map(|&x| f(x)).collect();
        OMatrix::from_vec_generic(r, c, v)
    }

    fn scale_rows(self, d: &[T]) -> OMatrix<T, R, C> {
        let (r, c) = self.shape_generic();
        let rows = self.nrows();
        if rows == 0 {
            return self.clone_owned();
        }
        let mut v = Vec::with_capacity(self.len());
        for col in self.as_slice().chunks_exact(rows) {
            v.extend(col.iter().zip(d).map(|(x, di)| *x * *di));
        }
        OMatrix::from_vec_generic(r, c, v)
    }
}

fn zeros_like<T: RealField + Copy, R: Dim, C: Dim>(rows: R, cols: C) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    OMatrix::from_element_generic(rows, cols, T::zero())
}

/// I ⊗ A: A in each diagonal block (the Jacobian of a ↦ A x for a matrix x).
pub fn kron_identity_left<T, R1, C1, S1, R, C>(
    a: &Matrix<T, R1, C1, S1>,
    rows: R,
    cols: C,
) -> OMatrix<T, R, C>
where
    T: RealField + Copy,
    R1: Dim,
    C1: Dim,
    S1: nalgebra::Storage<T, R1, C1>,
    R: Dim,
    C: Dim,
    DefaultAllocator: Allocator<R, C>,
{
    let mut out = zeros_like(rows, cols);
    let (p, l) = a.shape();
    let q = out.nrows().checked_div(p).unwrap_or(0);
    for k in 0..q {
        out.generic_view_mut((k * p, k * l), a.shape_generic())
            .copy_from(a);
    }
    out
}

/// A ⊗ I: entry (i, j) of A on the diagonal of block (i, j).
pub fn kron_identity_right<T, R1, C1, S1, R, C>(
    a: &Matrix<T, R1, C1, S1>,
    rows: R,
    cols: C,
) -> OMatrix<T, R, C>
where
    T: RealField + Copy,
    R1: Dim,
    C1: Dim,
    S1: nalgebra::Storage<T, R1, C1>,
    R: Dim,
    C: Dim,
    DefaultAllocator: Allocator<R, C>,
{
    let mut out = zeros_like(rows, cols);
    let (m, n) = a.shape();
    let p = out.nrows().checked_div(m).unwrap_or(0);
    for j in 0..n {
        for i in 0..m {
            for s in 0..p {
                out[(i * p + s, j * p + s)] = a[(i, j)];
            }
        }
    }
    out
}

/// (I ⊗ A) J: A times each block of A's column count rows of J.
pub fn apply_kron_identity_left<T, R1, C1, S1, R2, C2, S2, R>(
    a: &Matrix<T, R1, C1, S1>,
    j: &Matrix<T, R2, C2, S2>,
    rows: R,
) -> OMatrix<T, R, C2>
where
    T: RealField + Copy,
    R1: Dim,
    C1: Dim,
    S1: nalgebra::Storage<T, R1, C1>,
    R2: Dim,
    C2: Dim,
    S2: nalgebra::Storage<T, R2, C2>,
    R: Dim,
    DefaultAllocator: Allocator<R, C2>,
{
    let mut out = zeros_like(rows, j.shape_generic().1);
    let (p, l) = a.shape();
    let q = j.nrows().checked_div(l).unwrap_or(0);
    let (pr, lc, n) = (
        a.shape_generic().0,
        a.shape_generic().1,
        j.shape_generic().1,
    );
    for k in 0..q {
        out.generic_view_mut((k * p, 0), (pr, n)).gemm(
            T::one(),
            a,
            &j.generic_view((k * l, 0), (lc, n)),
            T::zero(),
        );
    }
    out
}

/// (M ⊗ I) J: block i of the result is Σₖ Mᵢₖ times block k of J.
pub fn apply_kron_identity_right<T, R1, C1, S1, R2, C2, S2, R>(
    m: &Matrix<T, R1, C1, S1>,
    j: &Matrix<T, R2, C2, S2>,
    rows: R,
) -> OMatrix<T, R, C2>
where
    T: RealField + Copy,
    R1: Dim,
    C1: Dim,
    S1: nalgebra::Storage<T, R1, C1>,
    R2: Dim,
    C2: Dim,
    S2: nalgebra::Storage<T, R2, C2>,
    R: Dim,
    DefaultAllocator: Allocator<R, C2>,
{
    let mut out = zeros_like(rows, j.shape_generic().1);
    let (mi, mk) = m.shape();
    let p = j.nrows().checked_div(mk).unwrap_or(0);
    for col in 0..j.ncols() {
        for i in 0..mi {
            for k in 0..mk {
                let c = m[(i, k)];
                if c == T::zero() {
                    continue;
                }
                for s in 0..p {
                    out[(i * p + s, col)] += c * j[(k * p + s, col)];
                }
            }
        }
    }
    out
}

/// K J for the commutation matrix K of matrices with `r` rows: row j + i c of the result is
/// row i + j r of J (vec(Aᵀ) from vec(A)).
pub fn commute_rows<T, R, C, S>(j: &Matrix<T, R, C, S>, r: usize) -> OMatrix<T, R, C>
where
    T: Scalar,
    R: Dim,
    C: Dim,
    S: nalgebra::Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C>,
{
    let mut out = j.clone_owned();
    let c = j.nrows().checked_div(r).unwrap_or(0);
    for i in 0..r {
        for jj in 0..c {
            out.row_mut(jj + i * c).copy_from(&j.row(i + jj * r));
        }
    }
    out
}

/// The commutation matrix of matrices with `r` rows, built (when it is the value).
pub fn commutation<T, R, C>(r: usize, rows: R, cols: C) -> OMatrix<T, R, C>
where
    T: RealField + Copy,
    R: Dim,
    C: Dim,
    DefaultAllocator: Allocator<R, C>,
{
    let mut out = zeros_like(rows, cols);
    let n = out.nrows();
    let c = n.checked_div(r).unwrap_or(0);
    for i in 0..r {
        for j in 0..c {
            out[(j + i * c, i + j * r)] = T::one();
        }
    }
    out
}

/// The storage index of the first largest (`max`) or smallest entry, the one nalgebra's
/// `max()` / `min()` return: the subgradient of the extremum puts its weight there. A NaN
/// entry is never chosen over a number.
pub fn arg_extremum<'a, T: RealField + Copy>(
    entries: impl Iterator<Item = &'a T>,
    max: bool,
) -> usize {
    let mut best: Option<(usize, T)> = None;
    for (k, &v) in entries.enumerate() {
        let better = match best {
            None => true,
            Some((_, b)) => {
                if max {
                    v > b
                } else {
                    v < b
                }
            }
        };
        if better {
            best = Some((k, v));
        }
    }
    best.map_or(0, |(k, _)| k)
}

/// A square matrix kept as its LU factorisation, for an inverse that is only ever
/// multiplied by other matrices: X⁻¹B and X⁻ᵀB are solves, O(n²) per column of B after
/// one O(n³/3) factorisation, instead of forming X⁻¹ (O(n³)). With P X = L U (L unit lower, U upper,
/// both packed in one matrix): X⁻ᵀ v = Pᵀ L⁻ᵀ U⁻ᵀ v. Large dynamic `f64` matrices are factorised
/// by faer (blocked, with run-time CPU dispatch), the others by nalgebra.
pub struct Lu<T: RealField + Copy, D: nalgebra::DimMin<D, Output = D>>
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    lu: LuKind<T, D>,
    /// What a solve with a singular matrix does: panic with this message (the function
    /// inverts the matrix itself), or give NaN (`None`: only the derivative needs it).
    singular: Option<&'static str>,
}

enum LuKind<T: RealField + Copy, D: nalgebra::DimMin<D, Output = D>>
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    Nalgebra(nalgebra::LU<T, D, D>),
    #[cfg(feature = "faer")]
    Faer(crate::kernels::PackedLu),
}

impl<T: RealField + Copy, D: nalgebra::DimMin<D, Output = D>> Lu<T, D>
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    pub fn new<S: nalgebra::Storage<T, D, D>>(
        x: &Matrix<T, D, D, S>,
        singular: Option<&'static str>,
    ) -> Self {
        #[cfg(feature = "faer")]
        if let Some(a) = faer_input(x, crate::kernels::LU_FROM) {
            return Lu {
                lu: LuKind::Faer(crate::kernels::PackedLu::new(a, x.nrows())),
                singular,
            };
        }
        Lu {
            lu: LuKind::Nalgebra(x.clone_owned().lu()),
            singular,
        }
    }

    fn fail<C: Dim>(&self, like: (D, C)) -> OMatrix<T, D, C>
    where
        DefaultAllocator: Allocator<D, C>,
    {
        match self.singular {
            Some(msg) => panic!("{}", msg),
            None => {
                OMatrix::from_element_generic(like.0, like.1, nalgebra::convert::<f64, T>(f64::NAN))
            }
        }
    }

    /// X⁻¹ v (`transpose` false) or X⁻ᵀ v through faer's packed factors.
    #[cfg(feature = "faer")]
    fn faer_solve<C: Dim, S: nalgebra::Storage<T, D, C>>(
        &self,
        lu: &crate::kernels::PackedLu,
        v: &Matrix<T, D, C, S>,
        transpose: bool,
    ) -> OMatrix<T, D, C>
    where
        DefaultAllocator: Allocator<D, C>,
    {
        let shape = v.shape_generic();
        if lu.is_singular() {
            return self.fail(shape);
        }
        let mut b: Vec<f64> = v.iter().map(|e| as_f64(*e)).collect();
        lu.solve_in_place(&mut b, v.ncols(), transpose);
        OMatrix::from_vec_generic(shape.0, shape.1, from_f64_vec(b))
    }

    /// X⁻¹ v
    pub fn solve<C: Dim, S: nalgebra::Storage<T, D, C>>(
        &self,
        v: &Matrix<T, D, C, S>,
    ) -> OMatrix<T, D, C>
    where
        DefaultAllocator: Allocator<D, C>,
    {
        // Without faer, nalgebra's is the only kind.
        #[allow(clippy::infallible_destructuring_match)]
        let lu = match &self.lu {
            LuKind::Nalgebra(lu) => lu,
            #[cfg(feature = "faer")]
            LuKind::Faer(lu) => return self.faer_solve(lu, v, false),
        };
        let shape = v.shape_generic();
        lu.solve(v).unwrap_or_else(|| self.fail(shape))
    }

    /// X⁻ᵀ v
    pub fn solve_transposed<C: Dim, S: nalgebra::Storage<T, D, C>>(
        &self,
        v: &Matrix<T, D, C, S>,
    ) -> OMatrix<T, D, C>
    where
        DefaultAllocator: Allocator<D, C>,
    {
        // Without faer, nalgebra's is the only kind.
        #[allow(clippy::infallible_destructuring_match)]
        let lu = match &self.lu {
            LuKind::Nalgebra(lu) => lu,
            #[cfg(feature = "faer")]
            LuKind::Faer(lu) => return self.faer_solve(lu, v, true),
        };
        let mut y = v.clone_owned();
        let shape = y.shape_generic();
        let packed = lu.lu_internal();
        // Uᵀ z = v: the upper triangle, diagonal included.
        if !packed.tr_solve_upper_triangular_mut(&mut y) {
            return self.fail(shape);
        }
        // Lᵀ w = z, L unit lower triangular (the strict lower triangle): back substitution.
        let n = packed.nrows();
        for c in 0..y.ncols() {
            for i in (0..n).rev() {
                let mut acc = y[(i, c)];
                for k in i + 1..n {
                    acc -= packed[(k, i)] * y[(k, c)];
                }
                y[(i, c)] = acc;
            }
        }
        lu.p().inv_permute_rows(&mut y);
        y
    }
}

/// X⁻¹, or `None` where X is singular (nalgebra's `try_inverse`): by faer for large dynamic
/// `f64` matrices, by nalgebra otherwise.
pub fn try_inverse<T, D, S>(x: &Matrix<T, D, D, S>) -> Option<OMatrix<T, D, D>>
where
    T: RealField + Copy,
    D: Dim,
    S: nalgebra::Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D>,
{
    #[cfg(feature = "faer")]
    if let Some(a) = faer_input(x, crate::kernels::INVERSE_FROM) {
        let n = x.nrows();
        let lu = crate::kernels::PackedLu::new(a, n);
        if lu.is_singular() {
            return None;
        }
        let mut out = vec![0.0; n * n];
        lu.inverse_into(&mut out);
        let (r, c) = x.shape_generic();
        return Some(OMatrix::from_vec_generic(r, c, from_f64_vec(out)));
    }
    x.clone_owned().try_inverse()
}

/// det X: by faer's LU for large dynamic `f64` matrices, by nalgebra otherwise.
pub fn determinant<T, D, S>(x: &Matrix<T, D, D, S>) -> T
where
    T: RealField + Copy,
    D: nalgebra::DimMin<D, Output = D>,
    S: nalgebra::Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    #[cfg(feature = "faer")]
    if let Some(a) = faer_input(x, crate::kernels::LU_FROM) {
        let d = crate::kernels::PackedLu::new(a, x.nrows()).determinant();
        return from_f64_vec::<T>(vec![d])[0];
    }
    x.determinant()
}

/// The Cholesky factor L of X = L Lᵀ (the lower triangle of X read), zero above the diagonal,
/// or `None` where X is not positive definite: by faer for large dynamic `f64` matrices, by
/// nalgebra otherwise.
pub fn cholesky<T, D, S>(x: &Matrix<T, D, D, S>) -> Option<OMatrix<T, D, D>>
where
    T: RealField + Copy,
    D: Dim,
    S: nalgebra::Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D>,
{
    #[cfg(feature = "faer")]
    if let Some(mut a) = faer_input(x, crate::kernels::CHOLESKY_FROM) {
        let n = x.nrows();
        if !crate::kernels::cholesky_in_place(&mut a, n) {
            return None;
        }
        let (r, c) = x.shape_generic();
        return Some(OMatrix::from_vec_generic(r, c, from_f64_vec(a)));
    }
    x.clone_owned().cholesky().map(|l| l.unpack())
}

/// A copy of a square matrix's entries (column-major) for faer: only for `f64`, dynamic
/// dimensions (static ones stay inline nalgebra), square, and of order `from` or more.
#[cfg(feature = "faer")]
fn faer_input<T, R, C, S>(x: &Matrix<T, R, C, S>, from: usize) -> Option<Vec<f64>>
where
    T: Scalar + Copy,
    R: Dim,
    C: Dim,
    S: RawStorage<T, R, C>,
{
    let dynamic = R::try_to_usize().is_none() || C::try_to_usize().is_none();
    // (a non-square matrix goes to nalgebra, which reports it as it always has)
    if !dynamic || !is_f64::<T>() || x.nrows() < from || x.nrows() != x.ncols() {
        return None;
    }
    Some(x.iter().map(|e| as_f64(*e)).collect())
}

#[cfg(feature = "faer")]
fn is_f64<T: 'static>() -> bool {
    core::any::TypeId::of::<T>() == core::any::TypeId::of::<f64>()
}

/// v as an `f64`, for a `T` that [`is_f64`].
#[cfg(feature = "faer")]
fn as_f64<T: 'static + Copy>(v: T) -> f64 {
    assert!(is_f64::<T>());
    // SAFETY: T is f64 (checked above).
    unsafe { core::mem::transmute_copy(&v) }
}

/// A vector of `f64` as one of `T`, for a `T` that [`is_f64`] (no copy).
#[cfg(feature = "faer")]
fn from_f64_vec<T: 'static>(v: Vec<f64>) -> Vec<T> {
    assert!(is_f64::<T>());
    let mut v = core::mem::ManuallyDrop::new(v);
    // SAFETY: T is f64 (checked above), so the pointer, length and capacity describe a Vec<T>.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr() as *mut T, v.len(), v.capacity()) }
}

/// Aᵀ B, by matrixmultiply on a transposed (strided) view of A where the sizes take
/// nalgebra's matrixmultiply path (every size above 5), and by a transposed copy otherwise
/// (nalgebra's small-matrix path expects column-contiguous operands).
pub fn tr_gemm<T, R1, C1, S1, C2, S2>(
    a: &Matrix<T, R1, C1, S1>,
    b: &Matrix<T, R1, C2, S2>,
) -> OMatrix<T, C1, C2>
where
    T: RealField + Copy,
    R1: Dim,
    C1: Dim,
    C2: Dim,
    S1: nalgebra::Storage<T, R1, C1> + nalgebra::IsContiguous,
    S2: nalgebra::Storage<T, R1, C2>,
    DefaultAllocator: Allocator<C1, R1> + Allocator<C1, C2>,
{
    let (r, c) = a.shape_generic();
    let large = r.value() > 5 && c.value() > 5 && b.ncols() > 5;
    let floats = core::any::TypeId::of::<T>() == core::any::TypeId::of::<f64>()
        || core::any::TypeId::of::<T>() == core::any::TypeId::of::<f32>();
    if large && floats {
        let view = nalgebra::MatrixView::from_slice_with_strides_generic(
            a.as_slice(),
            c,
            r,
            nalgebra::Dyn(r.value()),
            nalgebra::Dyn(1),
        );
        view * b
    } else {
        a.transpose() * b
    }
}

/// The same entries in another (equally sized) matrix type, e.g. a `DMatrix` with one
/// column as a `DVector`.
pub fn conform<T: Scalar, R1: Dim, C1: Dim, S1: RawStorage<T, R1, C1>, R: Dim, C: Dim>(
    m: Matrix<T, R1, C1, S1>,
    shape: (R, C),
) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    OMatrix::from_iterator_generic(shape.0, shape.1, m.iter().cloned())
}

/// A dynamic matrix as a static one of the same size (a Jacobian whose shapes are static).
pub fn conform_to<M, T, R, C>(m: OMatrix<T, nalgebra::Dyn, nalgebra::Dyn>) -> OMatrix<T, R, C>
where
    T: Scalar,
    R: nalgebra::DimName,
    C: nalgebra::DimName,
    M: Sized,
    DefaultAllocator: Allocator<R, C>,
{
    OMatrix::from_iterator_generic(R::name(), C::name(), m.iter().cloned())
}

/// The adjoint of A ⊗ B with respect to A: X_ij = ⟨C̄ block (i, j), B⟩, where the blocks of
/// C̄ have B's shape and X has the shape (rows, cols) of A.
pub fn kron_adjoint_left<T, R1, C1, S1, R2, C2, S2, R, C>(
    cbar: &Matrix<T, R1, C1, S1>,
    b: &Matrix<T, R2, C2, S2>,
    rows: R,
    cols: C,
) -> OMatrix<T, R, C>
where
    T: RealField + Copy,
    R1: Dim,
    C1: Dim,
    S1: RawStorage<T, R1, C1>,
    R2: Dim,
    C2: Dim,
    S2: RawStorage<T, R2, C2>,
    R: Dim,
    C: Dim,
    DefaultAllocator: Allocator<R, C>,
{
    let (p, q) = b.shape();
    OMatrix::from_fn_generic(rows, cols, |i, j| {
        let mut acc = T::zero();
        for l in 0..q {
            for k in 0..p {
                acc += cbar[(i * p + k, j * q + l)] * b[(k, l)];
            }
        }
        acc
    })
}

/// The adjoint of A ⊗ B with respect to B: Y = Σ_ij A_ij C̄ block (i, j), where Y has the
/// shape (rows, cols) of B.
pub fn kron_adjoint_right<T, R1, C1, S1, R2, C2, S2, R, C>(
    cbar: &Matrix<T, R1, C1, S1>,
    a: &Matrix<T, R2, C2, S2>,
    rows: R,
    cols: C,
) -> OMatrix<T, R, C>
where
    T: RealField + Copy,
    R1: Dim,
    C1: Dim,
    S1: RawStorage<T, R1, C1>,
    R2: Dim,
    C2: Dim,
    S2: RawStorage<T, R2, C2>,
    R: Dim,
    C: Dim,
    DefaultAllocator: Allocator<R, C>,
{
    let (m, n) = a.shape();
    let (p, q) = (rows.value(), cols.value());
    OMatrix::from_fn_generic(rows, cols, |k, l| {
        let mut acc = T::zero();
        for j in 0..n {
            for i in 0..m {
                acc += a[(i, j)] * cbar[(i * p + k, j * q + l)];
            }
        }
        acc
    })
}

/// Xᵀ r with rᵢ = f((X w)ᵢ, [v₁ᵢ, …, v_Kᵢ]): the gradient of a loss of X w (least squares,
/// logistic regression, generalised linear models), where `f` is the chain of entrywise
/// operations from X w to r (σ(zᵢ) − yᵢ, zᵢ − yᵢ, ...) and `outside` are the other vectors it
/// reads. For a large `f64` matrix X is read once: in blocks of rows that stay in cache, each
/// block's share of X w, its residuals, then its contribution to Xᵀ r
/// (`crate::kernels::tr_mul_map`). Otherwise X w, r and Xᵀ r one after the other, as nalgebra
/// computes them, r in one pass.
#[inline]
pub fn tr_mul_map<T, R, C, S1, S2, F, const K: usize>(
    x: &Matrix<T, R, C, S1>,
    w: &Matrix<T, C, nalgebra::U1, S2>,
    outside: [&[T]; K],
    f: F,
) -> OMatrix<T, C, nalgebra::U1>
where
    T: RealField + Copy,
    R: Dim,
    C: Dim,
    S1: nalgebra::Storage<T, R, C>,
    S2: nalgebra::Storage<T, C, nalgebra::U1>,
    F: Fn(T, [T; K]) -> T + Sync,
    DefaultAllocator: Allocator<R> + Allocator<C>,
{
    let m = x.nrows();
    #[cfg(feature = "faer")]
    if R::try_to_usize().is_none() && is_f64::<T>() && x.len() >= crate::kernels::ONE_PASS_FROM {
        if let Some(g) = one_pass(x, w, &outside, &f) {
            return g;
        }
    }
    // A small X with rows of run-time number: r on the stack, not on the heap. At these sizes
    // the allocation is a tenth of the time of X w, r and Xᵀ r together (`benches/kernels.rs`:
    // 0.87 of nalgebra's two passes at 20×5, 0.94 at 50×4; 1.05 at 30×40, hence the bound on
    // the entries too).
    if R::try_to_usize().is_none() && m <= SMALL_ROWS && x.len() < SMALL_ENTRIES {
        let mut stack = CacheLines([T::zero(); SMALL_ROWS]);
        let mut r = nalgebra::MatrixViewMut::from_slice_generic(
            &mut stack.0[..m],
            x.shape_generic().0,
            nalgebra::U1,
        );
        r.gemv(T::one(), x, w, T::zero());
        apply_chain(r.as_mut_slice(), &outside, &f);
        return x.tr_mul(&r);
    }
    let mut r = x * w;
    apply_chain(r.as_mut_slice(), &outside, &f);
    x.tr_mul(&r)
}

/// A buffer aligned to a cache line. Where the stack put r unaligned (an address that changes
/// from process to process), the gradient at 20×5 took 1.7× the time of the hand-written code
/// in 3 processes of 40 (0.87–0.93 in the others); aligned, 0.87–0.97 in 60 of 60.
#[repr(align(64))]
pub(crate) struct CacheLines<A>(pub(crate) A);

/// That every vector the chain of [`tr_mul_map`] reads has X's `m` rows: what the unchecked
/// reads of its entries rely on.
fn assert_rows<T, const K: usize>(outside: &[&[T]; K], m: usize) {
    assert!(
        outside.iter().all(|v| v.len() == m),
        "tr_mul_map: a vector of the chain does not have X's row count"
    );
}

/// Rows up to which [`tr_mul_map`] keeps r on the stack (512 bytes of `f64`) ..
const SMALL_ROWS: usize = 64;
/// .. when X has fewer entries than this (with the feature `faer`, larger ones take the one-pass
/// kernel).
const SMALL_ENTRIES: usize = 400;

/// rᵢ ← f(rᵢ, [v₁ᵢ, …, v_Kᵢ]) over a slice (nalgebra's own iterator over a matrix is generic
/// over strides and slower).
#[inline(always)]
fn apply_chain<T: Copy, F: Fn(T, [T; K]) -> T, const K: usize>(
    r: &mut [T],
    outside: &[&[T]; K],
    f: &F,
) {
    assert_rows(outside, r.len());
    for (i, v) in r.iter_mut().enumerate() {
        // SAFETY: every outside vector has m entries (asserted above) and i < m.
        *v = f(
            *v,
            core::array::from_fn(|k| unsafe { *outside[k].get_unchecked(i) }),
        );
    }
}

/// [`tr_mul_map`] for a large `f64` X stored in one run of memory: X read once
/// (`crate::kernels::tr_mul_map`). Kept out of line, so that the small path stays small.
#[cfg(feature = "faer")]
#[inline(never)]
fn one_pass<T, R, C, S1, S2, F, const K: usize>(
    x: &Matrix<T, R, C, S1>,
    w: &Matrix<T, C, nalgebra::U1, S2>,
    outside: &[&[T]; K],
    f: &F,
) -> Option<OMatrix<T, C, nalgebra::U1>>
where
    T: RealField + Copy,
    R: Dim,
    C: Dim,
    S1: nalgebra::Storage<T, R, C>,
    S2: nalgebra::Storage<T, C, nalgebra::U1>,
    F: Fn(T, [T; K]) -> T + Sync,
    DefaultAllocator: Allocator<C>,
{
    let xs = as_f64_slice(x.as_slice_contiguous()?);
    let ws: std::borrow::Cow<'_, [f64]> = match w.as_slice_contiguous() {
        Some(w) => as_f64_slice(w).into(),
        None => w.iter().map(|e| as_f64(*e)).collect(),
    };
    let m = x.nrows();
    assert_rows(outside, m);
    let g = crate::kernels::tr_mul_map(xs, m, &ws, |z, i| {
        // SAFETY: every outside vector has m entries (asserted above) and the kernel passes
        // row indices i < m.
        let o = core::array::from_fn(|k| unsafe { *outside[k].get_unchecked(i) });
        as_f64(f(from_f64(z), o))
    });
    Some(OMatrix::from_vec_generic(
        x.shape_generic().1,
        nalgebra::U1,
        from_f64_vec(g),
    ))
}

/// The entries of a column vector as a slice: borrowed where they are one run of memory, copied
/// otherwise (a view with a row stride).
pub fn column_slice<T: Scalar, R: Dim, C: Dim, S: RawStorage<T, R, C>>(
    v: &Matrix<T, R, C, S>,
) -> std::borrow::Cow<'_, [T]> {
    let (rs, _) = v.strides();
    if v.ncols() == 1 && rs == 1 {
        // SAFETY: one column with unit row stride: its nrows entries are one run of memory.
        std::borrow::Cow::Borrowed(unsafe { core::slice::from_raw_parts(v.data.ptr(), v.nrows()) })
    } else {
        std::borrow::Cow::Owned(v.iter().cloned().collect())
    }
}

/// The entries of a column-major matrix whose columns follow each other in memory.
#[cfg(feature = "faer")]
trait Contiguous<T> {
    fn as_slice_contiguous(&self) -> Option<&[T]>;
}

#[cfg(feature = "faer")]
impl<T: Scalar, R: Dim, C: Dim, S: nalgebra::Storage<T, R, C>> Contiguous<T>
    for Matrix<T, R, C, S>
{
    fn as_slice_contiguous(&self) -> Option<&[T]> {
        let (rs, cs) = self.strides();
        if rs == 1 && (cs == self.nrows() || self.ncols() <= 1) {
            // SAFETY: unit row stride and a column stride equal to the column length: the
            // nrows·ncols entries are one run of memory starting at the first entry.
            Some(unsafe { core::slice::from_raw_parts(self.data.ptr(), self.len()) })
        } else {
            None
        }
    }
}

#[cfg(feature = "faer")]
fn as_f64_slice<T: 'static>(s: &[T]) -> &[f64] {
    assert!(is_f64::<T>());
    // SAFETY: T is f64 (checked above).
    unsafe { core::slice::from_raw_parts(s.as_ptr() as *const f64, s.len()) }
}

#[cfg(feature = "faer")]
fn from_f64<T: 'static + Copy>(v: f64) -> T {
    assert!(is_f64::<T>());
    // SAFETY: T is f64 (checked above).
    unsafe { core::mem::transmute_copy(&v) }
}

/// The interval between stored states of a checkpointed loop of `n` iterations: ⌈√n⌉, so that
/// the backward pass holds about √n states and a segment of √n iterations' residuals.
pub fn checkpoint_interval(n: usize) -> usize {
    let mut k = (n as f64).sqrt() as usize;
    while k * k < n {
        k += 1;
    }
    k.max(1)
}
