//! Dense kernels through faer (feature `faer`, on by default): LU with partial pivoting, the
//! inverse and solves from its packed factors, Cholesky, and matrix products, each on zero-copy
//! views of nalgebra's column-major storage. faer picks AVX2/FMA or AVX-512 code at run time,
//! where nalgebra's own kernels are compiled for the baseline target (SSE2) and its LU is
//! unblocked.
//!
//! Only `f64` takes these paths, and only from the sizes where they were measured to win
//! (`benches/kernels.rs`, docs/BENCHMARKS.md); `src/runtime.rs` dispatches and keeps nalgebra
//! below them, for static shapes and for other scalar types. Everything here is single-threaded
//! (`Par::Seq`).

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::lu::partial_pivoting::{factor, inverse, solve};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// From this order on, faer factorises square matrices for solves and determinants (`Lu`,
/// `determinant`): LU and one solve by faer took 1.02× nalgebra's time at n = 48, 0.80× at 64,
/// 0.37× at 200 (`benches/kernels.rs`).
pub const LU_FROM: usize = 64;

/// From this order on, faer inverts (`try_inverse`): 0.98× nalgebra's time at n = 16, 0.59× at
/// 32, 0.25× at 200.
pub const INVERSE_FROM: usize = 32;

/// From this order on, faer computes Cholesky factors: 1.18× nalgebra's time at n = 16, 0.89×
/// at 32, 0.30× at 200.
pub const CHOLESKY_FROM: usize = 32;

/// Square products of this order or more go to faer's gemm (matrix powers): n³ products by
/// faer took 0.73× nalgebra's time at n = 48, 0.80× at 64, 0.87× at 100, 0.96× at 200.
pub const GEMM_FROM: usize = 48;

fn view(a: &[f64], rows: usize, cols: usize) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(a, rows, cols)
}

fn view_mut(a: &mut [f64], rows: usize, cols: usize) -> MatMut<'_, f64> {
    MatMut::from_column_major_slice_mut(a, rows, cols)
}

/// A packed LU factorisation P A = L U of an n×n matrix: L unit lower triangular below the
/// diagonal, U on and above it, as LAPACK's `getrf` leaves it (and nalgebra's `LU`).
pub struct PackedLu {
    pub n: usize,
    pub lu: Vec<f64>,
    fwd: Vec<usize>,
    bwd: Vec<usize>,
    /// The number of row transpositions (the sign of det P).
    pub transpositions: usize,
}

impl PackedLu {
    /// Factorises `a` (n×n, column-major), taking its buffer.
    pub fn new(mut a: Vec<f64>, n: usize) -> PackedLu {
        let mut fwd = vec![0usize; n];
        let mut bwd = vec![0usize; n];
        let mut mem = MemBuffer::new(factor::lu_in_place_scratch::<usize, f64>(
            n,
            n,
            Par::Seq,
            Default::default(),
        ));
        let (info, _) = factor::lu_in_place(
            view_mut(&mut a, n, n),
            &mut fwd,
            &mut bwd,
            Par::Seq,
            MemStack::new(&mut mem),
            Default::default(),
        );
        PackedLu {
            n,
            lu: a,
            fwd,
            bwd,
            transpositions: info.transposition_count,
        }
    }

    fn perm(&self) -> faer::perm::PermRef<'_, usize> {
        faer::perm::PermRef::new_checked(&self.fwd, &self.bwd, self.n)
    }

    /// Whether U has a zero on its diagonal (A singular), as nalgebra's LU reports it.
    pub fn is_singular(&self) -> bool {
        (0..self.n).any(|i| self.lu[i * self.n + i] == 0.0)
    }

    /// det A = (−1)^transpositions Πᵢ Uᵢᵢ; 0 where a pivot is 0 (faer divides by a zero pivot,
    /// so the entries after it are NaN; nalgebra skips it).
    pub fn determinant(&self) -> f64 {
        if self.is_singular() {
            return 0.0;
        }
        let mut d = if self.transpositions % 2 == 0 {
            1.0
        } else {
            -1.0
        };
        for i in 0..self.n {
            d *= self.lu[i * self.n + i];
        }
        d
    }

    /// A⁻¹ into `out` (n×n, column-major).
    pub fn inverse_into(&self, out: &mut [f64]) {
        let n = self.n;
        let lu = view(&self.lu, n, n);
        let mut mem = MemBuffer::new(inverse::inverse_scratch::<usize, f64>(n, Par::Seq));
        inverse::inverse(
            view_mut(out, n, n),
            lu,
            lu,
            self.perm(),
            Par::Seq,
            MemStack::new(&mut mem),
        );
    }

    /// A⁻¹ B (`transpose` false) or A⁻ᵀ B in place, B n×k column-major.
    pub fn solve_in_place(&self, b: &mut [f64], k: usize, transpose: bool) {
        let n = self.n;
        let lu = view(&self.lu, n, n);
        let rhs = view_mut(b, n, k);
        let mut mem = MemBuffer::new(solve::solve_in_place_scratch::<usize, f64>(n, k, Par::Seq));
        let stack = MemStack::new(&mut mem);
        if transpose {
            solve::solve_transpose_in_place(lu, lu, self.perm(), rhs, Par::Seq, stack);
        } else {
            solve::solve_in_place(lu, lu, self.perm(), rhs, Par::Seq, stack);
        }
    }
}

/// The Cholesky factor L of A = L Lᵀ (A n×n column-major, its lower triangle read) in place:
/// L in the lower triangle, the strict upper triangle zeroed. `false` where A is not positive
/// definite.
pub fn cholesky_in_place(a: &mut [f64], n: usize) -> bool {
    use faer::linalg::cholesky::llt::factor as llt;
    let mut mem = MemBuffer::new(llt::cholesky_in_place_scratch::<f64>(
        n,
        Par::Seq,
        Default::default(),
    ));
    let ok = llt::cholesky_in_place(
        view_mut(a, n, n),
        Default::default(),
        Par::Seq,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .is_ok();
    for j in 1..n {
        a[j * n..j * n + j].fill(0.0);
    }
    ok
}

/// The operand of a product: a column-major m×k block, or the transpose of one (read in place).
#[derive(Clone, Copy)]
pub struct Operand<'a> {
    pub data: &'a [f64],
    /// rows and columns of the stored (column-major) matrix
    pub rows: usize,
    pub cols: usize,
    pub transposed: bool,
}

impl<'a> Operand<'a> {
    fn get(self) -> MatRef<'a, f64> {
        let v = view(self.data, self.rows, self.cols);
        if self.transposed {
            v.transpose()
        } else {
            v
        }
    }
}

/// dst = a b (dst column-major, already the product's shape).
pub fn gemm(dst: &mut [f64], a: Operand<'_>, b: Operand<'_>) {
    let (a, b) = (a.get(), b.get());
    let dst = view_mut(dst, a.nrows(), b.ncols());
    matmul(dst, Accum::Replace, a, b, 1.0, Par::Seq);
}

/// From this many entries of X on, generated code calls [`tr_mul_map`] (X read once in blocks of
/// rows, in loops compiled for AVX2/FMA where the CPU has them); below, r stays on the stack and
/// X w and Xᵀ r are nalgebra's. Measured in `benches/kernels.rs`, one pass / nalgebra's two
/// passes: 0.99 at 20×5 (the stack path: 0.87), 0.89 at 50×4 (0.89), 0.82 at 40×10, 0.74 at
/// 64×16, 0.80 at 100×10, 0.67 at 200×50.
pub const ONE_PASS_FROM: usize = 400;

/// Bytes of X per block of rows in [`tr_mul_map`]: the block is read from memory once for its
/// share of X w and again, from cache, for its share of Xᵀ r.
const BLOCK_BYTES: usize = 1 << 18;

/// Xᵀ r with rᵢ = f((X w)ᵢ, i), X m×n column-major, reading X from memory once: for each block
/// of rows, z = X_b w, r_b = f(z), g += X_bᵀ r_b.
pub fn tr_mul_map(
    x: &[f64],
    m: usize,
    w: &[f64],
    f: impl Fn(f64, usize) -> f64 + Sync,
) -> Vec<f64> {
    assert_eq!(x.len(), m * w.len());
    #[cfg(feature = "parallel")]
    {
        let parts = rayon::current_num_threads().min(x.len() / PARALLEL_FROM);
        if parts > 1 {
            // Rows split into `parts` ranges, one task each, their shares of Xᵀ r added.
            let per = m.div_ceil(parts);
            let f = &f;
            let shares: Vec<Vec<f64>> = {
                use rayon::prelude::*;
                (0..parts)
                    .into_par_iter()
                    .map(|p| rows_share(x, m, w, p * per..((p + 1) * per).min(m), f))
                    .collect()
            };
            let mut g = vec![0.0; w.len()];
            for share in shares {
                for (a, b) in g.iter_mut().zip(share) {
                    *a += b;
                }
            }
            return g;
        }
    }
    rows_share(x, m, w, 0..m, &f)
}

/// With the feature `parallel`: X of at least this many entries per thread is split by rows
/// among rayon's threads.
#[cfg(feature = "parallel")]
pub const PARALLEL_FROM: usize = 1 << 17;

/// The share of rows `rows` of X in Xᵀ r, X read once in blocks.
fn rows_share(
    x: &[f64],
    m: usize,
    w: &[f64],
    rows: core::ops::Range<usize>,
    f: &(impl Fn(f64, usize) -> f64 + Sync),
) -> Vec<f64> {
    let n = w.len();
    let mut g = vec![0.0; n];
    if n == 0 || rows.is_empty() {
        return g;
    }
    let height = (BLOCK_BYTES / 8 / n).clamp(16, 4096) & !7;
    // z of a few rows on the stack: at the smallest sizes the kernel takes is one allocation
    // is a tenth of the time.
    // (aligned to a cache line: unaligned, some processes ran the whole call 1.7× slower)
    let mut stack = crate::runtime::CacheLines([0.0; 64]);
    let mut heap = Vec::new();
    let z = if height.min(rows.len()) <= stack.0.len() {
        &mut stack.0[..]
    } else {
        heap.resize(height.min(rows.len()), 0.0);
        &mut heap[..]
    };
    #[cfg(target_arch = "x86_64")]
    let fma =
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
    let mut f = f;
    let mut i0 = rows.start;
    while i0 < rows.end {
        let b = height.min(rows.end - i0);
        let z = &mut z[..b];
        #[cfg(target_arch = "x86_64")]
        if fma {
            // SAFETY: AVX2 and FMA were detected above.
            unsafe { block_avx2(x, m, i0, w, z, &mut g, &mut f) };
            i0 += b;
            continue;
        }
        block::<false>(x, m, i0, w, z, &mut g, &mut f);
        i0 += b;
    }
    g
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_avx2(
    x: &[f64],
    m: usize,
    i0: usize,
    w: &[f64],
    z: &mut [f64],
    g: &mut [f64],
    f: &mut impl FnMut(f64, usize) -> f64,
) {
    block::<true>(x, m, i0, w, z, g, f)
}

/// cᵀz for C columns c at once: eight lanes per column over the rows (so that the loop
/// vectorises and each chunk of z is loaded once for all C), then the lanes summed and the rows
/// past the last multiple of 8 added.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // lanes by index: the same l in x, z and the sums
fn dots<const FMA: bool, const C: usize>(cs: [&[f64]; C], z: &[f64]) -> [f64; C] {
    let lanes = z.len() & !7;
    let mut acc = [[0.0f64; 8]; C];
    for (k, zc) in z[..lanes].chunks_exact(8).enumerate() {
        let zc: &[f64; 8] = zc.try_into().unwrap();
        for (c, a) in acc.iter_mut().enumerate() {
            let xc: &[f64; 8] = cs[c][k * 8..k * 8 + 8].try_into().unwrap();
            for l in 0..8 {
                a[l] = madd::<FMA>(xc[l], zc[l], a[l]);
            }
        }
    }
    let mut sums = [0.0; C];
    for (c, (s, a)) in sums.iter_mut().zip(&acc).enumerate() {
        *s = a.iter().sum();
        for (&xk, &zk) in cs[c][lanes..].iter().zip(&z[lanes..]) {
            *s = madd::<FMA>(xk, zk, *s);
        }
    }
    sums
}

#[inline(always)]
fn madd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// One block of rows i0..i0 + z.len(): z = X_b w, zᵢ ← f(zᵢ, i), g += X_bᵀ z. Four columns at
/// a time, over zipped slices (no bounds checks, so the loops vectorise), the sums of X_bᵀ z in
/// eight lanes per column.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // columns by index: j, j + 1, .. and w[j], g[j]
fn block<const FMA: bool>(
    x: &[f64],
    m: usize,
    i0: usize,
    w: &[f64],
    z: &mut [f64],
    g: &mut [f64],
    f: &mut impl FnMut(f64, usize) -> f64,
) {
    let n = w.len();
    let b = z.len();
    let col = |j: usize| &x[j * m + i0..j * m + i0 + b];
    z.fill(0.0);
    let n4 = n & !3;
    for j in (0..n4).step_by(4) {
        let (c0, c1, c2, c3) = (col(j), col(j + 1), col(j + 2), col(j + 3));
        let (w0, w1, w2, w3) = (w[j], w[j + 1], w[j + 2], w[j + 3]);
        for ((((zk, &a0), &a1), &a2), &a3) in z.iter_mut().zip(c0).zip(c1).zip(c2).zip(c3) {
            let s = madd::<FMA>(a0, w0, *zk);
            let s = madd::<FMA>(a1, w1, s);
            let s = madd::<FMA>(a2, w2, s);
            *zk = madd::<FMA>(a3, w3, s);
        }
    }
    for j in n4..n {
        let wj = w[j];
        for (zk, &a) in z.iter_mut().zip(col(j)) {
            *zk = madd::<FMA>(a, wj, *zk);
        }
    }
    for (k, v) in z.iter_mut().enumerate() {
        *v = f(*v, i0 + k);
    }
    let z: &[f64] = z;
    for j in (0..n4).step_by(4) {
        let sums = dots::<FMA, 4>([col(j), col(j + 1), col(j + 2), col(j + 3)], z);
        for (gj, s) in g[j..j + 4].iter_mut().zip(sums) {
            *gj += s;
        }
    }
    for j in n4..n {
        g[j] += dots::<FMA, 1>([col(j)], z)[0];
    }
}
