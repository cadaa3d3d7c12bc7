//! Linear solves with a symmetric matrix — a Hessian — for the closed-form minimisers
//! (`<name>_argmin`) and the Newton step of the argmin adapter: Cholesky where the matrix is
//! positive definite, LU otherwise. No inverse is ever formed.

use crate::nalgebra;
use nalgebra::allocator::Allocator;
use nalgebra::{DVector, DefaultAllocator, Dim, Dyn, Matrix, OMatrix, RealField, Storage};

/// A factorised symmetric matrix H (of the stacked vec of a variable), ready to solve H z = r.
#[derive(Clone, Debug)]
pub enum SymmetricFactor<T: RealField + Copy> {
    /// H = L Lᵀ: H is symmetric positive definite (a strictly convex quadratic).
    Cholesky(nalgebra::Cholesky<T, Dyn>),
    /// P H = L U: H is invertible but not positive definite (a saddle or a maximum).
    Lu(nalgebra::LU<T, Dyn, Dyn>),
}

impl<T: RealField + Copy> SymmetricFactor<T> {
    /// Factorise H; `None` where H is singular (no unique solution).
    pub fn new(h: OMatrix<T, Dyn, Dyn>) -> Option<Self> {
        match h.clone().cholesky() {
            Some(c) => Some(SymmetricFactor::Cholesky(c)),
            None => {
                let lu = h.lu();
                lu.is_invertible().then_some(SymmetricFactor::Lu(lu))
            }
        }
    }

    /// Whether H is positive definite (so that the solution of ∇f = 0 is the minimum).
    pub fn is_positive_definite(&self) -> bool {
        matches!(self, SymmetricFactor::Cholesky(_))
    }

    /// z with H vec(z) = vec(r), shaped like r.
    pub fn solve_like<R: Dim, C: Dim, S: Storage<T, R, C>>(
        &self,
        r: &Matrix<T, R, C, S>,
    ) -> OMatrix<T, R, C>
    where
        DefaultAllocator: Allocator<R, C>,
    {
        let (rows, cols) = r.shape_generic();
        let z = self.solve_vec(DVector::from_iterator(r.len(), r.iter().copied()));
        OMatrix::from_iterator_generic(rows, cols, z.iter().copied())
    }

    /// z with H z = r. (Apart from `solve_like`, whose bound on `DefaultAllocator` would make
    /// the compiler read these solves' dimensions as its own.)
    fn solve_vec(&self, r: DVector<T>) -> DVector<T> {
        match self {
            SymmetricFactor::Cholesky(c) => c.solve(&r),
            // `new` made sure U has no zero pivot, so the solve succeeds.
            SymmetricFactor::Lu(lu) => lu.solve(&r).unwrap_or(r),
        }
    }

    /// z with H z = r, for a scalar variable (H is 1×1).
    pub fn solve_scalar(&self, r: T) -> T {
        self.solve_like(&nalgebra::Matrix1::new(r))[0]
    }
}
