//! Constants whose kind only the compiler knows. A method's body reads fields (`&self.x * w`)
//! without saying whether `self.x` is a scalar or a matrix; generated code multiplies by such a
//! constant through these traits, implemented for `f64`, `f32` and nalgebra matrices, so that
//! rustc picks the operation: a scaling for a scalar, a matrix product for a matrix.

use crate::nalgebra;
use nalgebra::allocator::Allocator;
use nalgebra::constraint::{AreMultipliable, ShapeConstraint};
use nalgebra::{DefaultAllocator, Dim, Matrix, OMatrix, RealField, Storage};

/// k a, for a constant k: `k * a` for a scalar, the matrix product for a matrix.
pub trait Times<A> {
    type Output;
    fn times(&self, a: &A) -> Self::Output;
}

/// kᵀ a, for a constant k: `k * a` for a scalar (its own transpose), `kᵀ a` for a matrix.
pub trait TrTimes<A> {
    type Output;
    fn tr_times(&self, a: &A) -> Self::Output;
}

/// The number of rows of k a (and of kᵀ a) when a has `n` rows.
pub trait Rows {
    fn rows_times(&self, n: usize) -> usize;
    fn rows_tr_times(&self, n: usize) -> usize;
}

macro_rules! scalar_operand {
    ($t:ty) => {
        impl<R: Dim, C: Dim, S: Storage<$t, R, C>> Times<Matrix<$t, R, C, S>> for $t
        where
            DefaultAllocator: Allocator<R, C>,
        {
            type Output = OMatrix<$t, R, C>;
            fn times(&self, a: &Matrix<$t, R, C, S>) -> Self::Output {
                a * *self
            }
        }

        impl<R: Dim, C: Dim, S: Storage<$t, R, C>> TrTimes<Matrix<$t, R, C, S>> for $t
        where
            DefaultAllocator: Allocator<R, C>,
        {
            type Output = OMatrix<$t, R, C>;
            fn tr_times(&self, a: &Matrix<$t, R, C, S>) -> Self::Output {
                a * *self
            }
        }

        impl Rows for $t {
            fn rows_times(&self, n: usize) -> usize {
                n
            }
            fn rows_tr_times(&self, n: usize) -> usize {
                n
            }
        }
    };
}

scalar_operand!(f64);
scalar_operand!(f32);

impl<T, R1, C1, S1, R2, C2, S2> Times<Matrix<T, R2, C2, S2>> for Matrix<T, R1, C1, S1>
where
    T: RealField + Copy,
    R1: Dim,
    C1: Dim,
    R2: Dim,
    C2: Dim,
    S1: Storage<T, R1, C1>,
    S2: Storage<T, R2, C2>,
    ShapeConstraint: AreMultipliable<R1, C1, R2, C2>,
    DefaultAllocator: Allocator<R1, C2>,
{
    type Output = OMatrix<T, R1, C2>;
    fn times(&self, a: &Matrix<T, R2, C2, S2>) -> Self::Output {
        self * a
    }
}

impl<T, R1, C1, S1, R2, C2, S2> TrTimes<Matrix<T, R2, C2, S2>> for Matrix<T, R1, C1, S1>
where
    T: RealField + Copy,
    R1: Dim,
    C1: Dim,
    R2: Dim,
    C2: Dim,
    S1: Storage<T, R1, C1>,
    S2: Storage<T, R2, C2>,
    ShapeConstraint: AreMultipliable<C1, R1, R2, C2>,
    DefaultAllocator: Allocator<C1, R1> + Allocator<C1, C2>,
{
    type Output = OMatrix<T, C1, C2>;
    fn tr_times(&self, a: &Matrix<T, R2, C2, S2>) -> Self::Output {
        // A copy of the transpose, then gemm: faster than `tr_mul`'s dot products for
        // matrix·matrix (PERF-NOTES).
        self.transpose() * a
    }
}

impl<T, R, C, S> Rows for Matrix<T, R, C, S>
where
    T: nalgebra::Scalar,
    R: Dim,
    C: Dim,
    S: nalgebra::RawStorage<T, R, C>,
{
    fn rows_times(&self, _: usize) -> usize {
        self.nrows()
    }
    fn rows_tr_times(&self, _: usize) -> usize {
        self.ncols()
    }
}
