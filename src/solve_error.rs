//! The error of a closed-form minimiser, `try_<name>_argmin`.

use std::fmt;

use crate::ShapeError;

/// Why `try_<name>_argmin` found no minimiser: arguments whose shapes do not fit together, or a
/// singular Hessian (∇f = 0 has no unique solution, e.g. least squares with fewer independent
/// observations than unknowns). `<name>_argmin` panics with the same message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SolveError {
    /// The arguments' sizes contradict what the function's body requires of them.
    Shape(ShapeError),
    /// The Hessian of the objective is singular.
    Singular {
        /// The generated function, e.g. `ridge_argmin`.
        function: &'static str,
        /// The objective and its variable, e.g. `ridge` and `w`.
        objective: &'static str,
        variable: &'static str,
    },
}

impl fmt::Display for SolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SolveError::Shape(e) => e.fmt(f),
            SolveError::Singular {
                function,
                objective,
                variable,
            } => write!(
                f,
                "{function}: the Hessian of `{objective}` with respect to `{variable}` is singular, so ∇f = 0 has no unique solution"
            ),
        }
    }
}

impl std::error::Error for SolveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SolveError::Shape(e) => Some(e),
            SolveError::Singular { .. } => None,
        }
    }
}

impl From<ShapeError> for SolveError {
    fn from(e: ShapeError) -> Self {
        SolveError::Shape(e)
    }
}
