//! The error of a generated function called with arguments whose shapes do not fit together.

use std::fmt;

/// Arguments whose sizes contradict what the function's body requires of them, found on entry
/// to a generated gradient function (`try_<name>_grad`, `try_<name>_value_and_grad`); the
/// functions without `try_` panic with the same message.
///
/// ```
/// use matgrad::gradient;
/// use matgrad::nalgebra::{DMatrix, DVector};
///
/// #[gradient(wrt = w)]
/// fn least_squares(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
///     (x * w - y).norm_squared()
/// }
///
/// let (x, w, y) = (DMatrix::zeros(4, 3), DVector::zeros(5), DVector::zeros(4));
/// let err = try_least_squares_grad(&x, &w, &y).unwrap_err();
/// assert_eq!(err.to_string(), "least_squares_grad: `x` has 3 columns but `w` has 5 rows");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    function: &'static str,
    message: String,
}

impl ShapeError {
    /// The generated function that found the mismatch, e.g. `least_squares_grad`.
    pub fn function(&self) -> &'static str {
        self.function
    }

    /// What does not fit, e.g. ``x` has 3 columns but `w` has 5 rows``.
    pub fn message(&self) -> &str {
        &self.message
    }

    #[doc(hidden)]
    pub fn mismatch(
        function: &'static str,
        (a, a_size, a_axis): (&str, usize, &str),
        (b, b_size, b_axis): (&str, usize, &str),
    ) -> ShapeError {
        let message = format!(
            "`{a}` has {} but `{b}` has {}",
            count(a_size, a_axis),
            count(b_size, b_axis)
        );
        ShapeError { function, message }
    }

    #[doc(hidden)]
    pub fn fixed(
        function: &'static str,
        (a, a_size, a_axis): (&str, usize, &str),
        want: usize,
    ) -> ShapeError {
        let message = format!("`{a}` has {} but must have {want}", count(a_size, a_axis));
        ShapeError { function, message }
    }
}

fn count(n: usize, axis: &str) -> String {
    if n == 1 {
        format!("1 {axis}")
    } else {
        format!("{n} {axis}s")
    }
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.function, self.message)
    }
}

impl std::error::Error for ShapeError {}
