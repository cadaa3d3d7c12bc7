//! The Jacobian of every supported operation, in all three layouts, against finite differences.
//! Each operation is one function of a rectangular matrix variable `x` (3×2), generated in the
//! numerator, denominator and block layouts by the `layouts!` macro below.

use matgrad::jacobian;
use matgrad::nalgebra::{DMatrix, DVector};

use crate::support::*;

/// Seed 004's block layout from the numerator layout: block (i, j) is ∂F_ij/∂X.
fn to_blocks(num: &DMatrix<f64>, (p, q): (usize, usize), (m, n): (usize, usize)) -> DMatrix<f64> {
    DMatrix::from_fn(p * m, q * n, |a, b| {
        num[((a / m) + (b / n) * p, (a % m) + (b % n) * m)]
    })
}

macro_rules! layouts {
    ($name:ident, |$x:ident, $a:ident, $b:ident, $s:ident| -> $ret:ty $body:block) => {
        #[allow(unused_variables)]
        mod $name {
            use super::*;
            #[jacobian(wrt = $x)]
            pub fn num($x: &DMatrix<f64>, $a: &DMatrix<f64>, $b: &DMatrix<f64>, $s: f64) -> $ret $body
            #[jacobian(wrt = $x, layout = denominator)]
            pub fn den($x: &DMatrix<f64>, $a: &DMatrix<f64>, $b: &DMatrix<f64>, $s: f64) -> $ret $body
            #[jacobian(wrt = $x, layout = blocks)]
            pub fn blk($x: &DMatrix<f64>, $a: &DMatrix<f64>, $b: &DMatrix<f64>, $s: f64) -> $ret $body

            #[test]
            fn all_layouts_match_finite_differences() {
                let mut r = rng(stringify!($name).len() as u64 * 7919);
                // x is 3×2, a is 2×3 (so x a is square), b is 3×2 (x's shape).
                let x = DMatrix::identity(3, 2) * 2.0 + mat(&mut r, 3, 2).map(|v| v.abs() * 0.3 + 0.2);
                let a = mat(&mut r, 2, 3);
                let b = mat(&mut r, 3, 2).map(|v| v + 2.0);
                let s = 0.7;
                let as_matrix = |v: $ret| -> DMatrix<f64> { to_matrix(v) };
                let f = |x: &DMatrix<f64>| as_matrix(num(x, &a, &b, s));
                let value = f(&x);
                let fd = fd_jacobian(&x, &f);
                let j = num_jacobian(&x, &a, &b, s);
                assert_close(&j, &fd, 1e-6);
                assert_close(&den_jacobian(&x, &a, &b, s), &j.transpose(), 0.0);
                let blocks = to_blocks(&j, value.shape(), x.shape());
                assert_close(&blk_jacobian(&x, &a, &b, s), &blocks, 0.0);
                let (v, j2) = num_value_and_jacobian(&x, &a, &b, s);
                assert_eq!(as_matrix(v), value);
                assert_eq!(j2, j);
                let _ = (den(&x, &a, &b, s), blk(&x, &a, &b, s));
            }
        }
    };
}

/// Any value as a matrix, for comparing.
trait ToMatrix {
    fn to_matrix(self) -> DMatrix<f64>;
}
impl ToMatrix for DMatrix<f64> {
    fn to_matrix(self) -> DMatrix<f64> {
        self
    }
}
impl ToMatrix for DVector<f64> {
    fn to_matrix(self) -> DMatrix<f64> {
        DMatrix::from_column_slice(self.len(), 1, self.as_slice())
    }
}
impl ToMatrix for f64 {
    fn to_matrix(self) -> DMatrix<f64> {
        DMatrix::from_element(1, 1, self)
    }
}
fn to_matrix<T: ToMatrix>(v: T) -> DMatrix<f64> {
    v.to_matrix()
}

layouts!(identity, |x, a, b, s| -> DMatrix<f64> { x.clone() });
layouts!(sum_and_difference, |x, a, b, s| -> DMatrix<f64> {
    x + b - x * 2.0
});
layouts!(negation, |x, a, b, s| -> DMatrix<f64> { -x });
layouts!(product_left, |x, a, b, s| -> DMatrix<f64> { a * x });
layouts!(product_right, |x, a, b, s| -> DMatrix<f64> { x * a });
layouts!(product_twice, |x, a, b, s| -> DMatrix<f64> { x * a * x });
layouts!(tr_mul, |x, a, b, s| -> DMatrix<f64> { x.tr_mul(b) });
layouts!(scaling, |x, a, b, s| -> DMatrix<f64> { x * s / 2.0 });
layouts!(scaling_by_a_function, |x, a, b, s| -> DMatrix<f64> {
    x * x.norm()
});
layouts!(transpose, |x, a, b, s| -> DMatrix<f64> { x.transpose() });
layouts!(trace, |x, a, b, s| -> f64 { (x * a).trace() });
layouts!(determinant, |x, a, b, s| -> f64 { (a * x).determinant() });
layouts!(inverse, |x, a, b, s| -> DMatrix<f64> {
    (a * x).try_inverse().unwrap()
});
layouts!(hadamard, |x, a, b, s| -> DMatrix<f64> {
    x.component_mul(b).component_mul(x)
});
layouts!(hadamard_division, |x, a, b, s| -> DMatrix<f64> {
    x.component_div(b) + b.component_div(x)
});
layouts!(kronecker, |x, a, b, s| -> DMatrix<f64> {
    x.kronecker(b) + b.kronecker(x)
});
layouts!(inner_product, |x, a, b, s| -> f64 { x.dot(b) + x.dot(x) });
layouts!(norms, |x, a, b, s| -> f64 { x.norm() + x.norm_squared() });
layouts!(sum_of_entries, |x, a, b, s| -> f64 { x.sum() });
layouts!(entries, |x, a, b, s| -> DVector<f64> {
    DVector::from_vec(vec![x[(2, 1)] * x[(0, 0)], x[(1, 0)]])
});
layouts!(add_scalar, |x, a, b, s| -> DMatrix<f64> {
    x.add_scalar(x[(0, 1)])
});
layouts!(entrywise_functions, |x, a, b, s| -> DMatrix<f64> {
    x.map(|v| {
        v.exp() + v.ln() + v.ln_1p() + v.sqrt() + v.sin() + v.cos() + v.tanh() + v.abs() + v.recip()
    })
});
layouts!(entrywise_powers, |x, a, b, s| -> DMatrix<f64> {
    x.map(|v| v.powi(3) + v.powf(s) + 1.0 / v - (2.0 - v) * v)
});
layouts!(scalar_functions, |x, a, b, s| -> f64 {
    x.norm().exp() + x.sum().tanh() + x.norm_squared().ln() + x.norm().powf(1.5)
});
