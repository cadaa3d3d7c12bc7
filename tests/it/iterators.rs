//! Part 4 of "Code as people write it": iterators and closures on the active path. Sums of
//! entrywise maps written with `iter()`, `zip` and tuple patterns, `zip_map`, scalar functions
//! passed by their path (`.map(f64::tanh)`), closures capturing variables and `let`s, and
//! constant maps whose shape matgrad now knows: each against central differences and its closed
//! form, on rectangular, non-symmetric data.

use matgrad::nalgebra::{self, DMatrix, DVector, RealField, RowDVector, Vector3};
use matgrad::{gradient, jacobian};

use crate::support::*;

/// Tolerances: against central differences, and against closed forms (rounding only).
const FD: f64 = 1e-6;
const CF: f64 = 1e-10;

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// Labels in {0, 1}, from the signs of a random vector.
fn labels(r: &mut rand::rngs::StdRng, n: usize) -> DVector<f64> {
    vec(r, n).map(|v| if v > 0.0 { 1.0 } else { 0.0 })
}

// ---- sums of entrywise maps through iter() -----------------------------------------------

#[gradient(wrt = w)]
fn tanh_sum(x: &DMatrix<f64>, w: &DVector<f64>) -> f64 {
    (x * w).iter().map(|v| v.tanh()).sum::<f64>()
}

// Without the turbofish, the item taken by a reference pattern.
#[gradient(wrt = w)]
fn exp_sum(x: &DMatrix<f64>, w: &DVector<f64>) -> f64 {
    (x * w).iter().map(|&v| v.exp()).sum()
}

#[gradient(wrt = w)]
fn squares_into_iter(w: &DVector<f64>) -> f64 {
    w.into_iter().map(|v| v * v).sum::<f64>()
}

#[gradient(wrt = w)]
fn plain_sum(x: &DMatrix<f64>, w: &DVector<f64>) -> f64 {
    (x * w).iter().sum::<f64>()
}

#[gradient(wrt = w)]
fn copied_with_path(x: &DMatrix<f64>, w: &DVector<f64>) -> f64 {
    (x * w).iter().copied().map(f64::sin).sum::<f64>()
}

#[test]
fn iter_map_sum_is_the_sum_of_the_entrywise_map() {
    let mut r = rng(1401);
    let (x, w) = (mat(&mut r, 7, 4), vec(&mut r, 4));
    let z = &x * &w;

    let g = tanh_sum_grad(&x, &w);
    assert_close(&g, &fd(&w, |w| tanh_sum(&x, w)), FD);
    assert_close(&g, &(x.transpose() * z.map(|v| 1.0 - v.tanh().powi(2))), CF);
    let (v, g2) = tanh_sum_value_and_grad(&x, &w);
    assert_close_scalar(v, tanh_sum(&x, &w), CF);
    assert_close(&g2, &g, 0.0);
    assert_close(&try_tanh_sum_grad(&x, &w).unwrap(), &g, 0.0);
    assert_eq!(TANH_SUM_GRAD_FORMULA, "∂f/∂w = xᵀ(1 − tanh²(x w))");

    let g = exp_sum_grad(&x, &w);
    assert_close(&g, &fd(&w, |w| exp_sum(&x, w)), FD);
    assert_close(&g, &(x.transpose() * z.map(f64::exp)), CF);
    assert_eq!(EXP_SUM_GRAD_FORMULA, "∂f/∂w = xᵀ exp(x w)");

    let g = squares_into_iter_grad(&w);
    assert_close(&g, &fd(&w, squares_into_iter), FD);
    assert_close(&g, &(&w * 2.0), CF);

    let g = plain_sum_grad(&x, &w);
    assert_close(&g, &fd(&w, |w| plain_sum(&x, w)), FD);
    assert_close(&g, &x.row_sum().transpose(), CF);

    let g = copied_with_path_grad(&x, &w);
    assert_close(&g, &fd(&w, |w| copied_with_path(&x, w)), FD);
    assert_close(&g, &(x.transpose() * z.map(f64::cos)), CF);
}

// ---- scalar functions by their path ---------------------------------------------------------

#[gradient(wrt = w)]
fn path_functions(x: &DMatrix<f64>, w: &DVector<f64>) -> f64 {
    let z = x * w;
    z.map(f64::tanh).sum() + z.map(f64::exp).map(f64::ln_1p).sum() + w.map(f64::abs).sum()
}

#[gradient(wrt = w)]
fn path_f32(x: &DMatrix<f32>, w: &DVector<f32>) -> f32 {
    (x * w).map(f32::tanh).sum()
}

#[gradient(wrt = w)]
fn path_generic<T: RealField + Copy>(x: &DMatrix<T>, w: &DVector<T>) -> T {
    (x * w).map(T::tanh).sum() + w.map(<T as nalgebra::ComplexField>::exp).sum()
}

#[test]
fn map_of_a_function_path_is_the_closure_that_calls_it() {
    let mut r = rng(1402);
    let (x, w) = (mat(&mut r, 7, 4), vec(&mut r, 4));
    let z = &x * &w;
    let g = path_functions_grad(&x, &w);
    assert_close(&g, &fd(&w, |w| path_functions(&x, w)), FD);
    let want =
        x.transpose() * (z.map(|v| 1.0 - v.tanh().powi(2)) + z.map(sigmoid)) + w.map(f64::signum);
    assert_close(&g, &want, CF);

    let (xf, wf) = (x.clone().cast::<f32>(), w.clone().cast::<f32>());
    let gf = path_f32_grad(&xf, &wf).cast::<f64>();
    let want = x.transpose() * z.map(|v| 1.0 - v.tanh().powi(2));
    assert_close(&gf, &want, 1e-5);
    // Differences in f32 need a wider step: O(h²) = 1e-4.
    let numeric = DVector::from_fn(4, |k, _| {
        let mut e = DVector::<f32>::zeros(4);
        e[k] = 1e-2;
        ((path_f32(&xf, &(&wf + &e)) - path_f32(&xf, &(&wf - &e))) / 2e-2) as f64
    });
    assert_close(&gf, &numeric, 1e-3);

    let g = path_generic_grad(&x, &w);
    assert_close(&g, &fd(&w, |w| path_generic(&x, w)), FD);
    assert_close(&g, &(want + w.map(f64::exp)), CF);
}

// ---- zip_map and zip ---------------------------------------------------------------------

#[gradient(wrt = (a, b))]
fn gated(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    a.zip_map(b, |u, v| u * v.tanh()).sum()
}

// One side constant, the other a variable, the closure capturing a scalar variable.
#[gradient(wrt = (b, s))]
fn gated_constant(a: &DMatrix<f64>, b: &DMatrix<f64>, s: f64) -> f64 {
    a.zip_map(b, |u, v| (u - s * v).powi(2)).sum()
}

// A block body with a `let` of an entry.
#[gradient(wrt = a)]
fn gated_block(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    a.zip_map(b, |u, v| {
        let k = 2.0 * v;
        (u * k).tanh()
    })
    .sum()
}

#[test]
fn zip_map_binds_each_argument_to_its_matrix() {
    let mut r = rng(1403);
    let (a, b) = (mat(&mut r, 7, 4), mat(&mut r, 7, 4));
    let (ga, gb) = gated_grad(&a, &b);
    assert_close(&ga, &fd(&a, |a| gated(a, &b)), FD);
    assert_close(&gb, &fd(&b, |b| gated(&a, b)), FD);
    assert_close(&ga, &b.map(f64::tanh), CF);
    assert_close(&gb, &a.zip_map(&b, |u, v| u * (1.0 - v.tanh().powi(2))), CF);
    // Shapes are checked at run time: `try_` reports matrices that `zip_map` cannot combine.
    assert!(try_gated_grad(&a, &b.transpose()).is_err());
    let (v, (ga2, gb2)) = gated_value_and_grad(&a, &b);
    assert_close_scalar(v, gated(&a, &b), CF);
    assert_close(&ga2, &ga, 0.0);
    assert_close(&gb2, &gb, 0.0);

    let g = gated_block_grad(&a, &b);
    assert_close(&g, &fd(&a, |a| gated_block(a, &b)), FD);
    let want = a.zip_map(&b, |u, v| 2.0 * v * (1.0 - (2.0 * u * v).tanh().powi(2)));
    assert_close(&g, &want, CF);

    let s = 0.7;
    let (gb, gs) = gated_constant_grad(&a, &b, s);
    assert_close(&gb, &fd(&b, |b| gated_constant(&a, b, s)), FD);
    assert_close_scalar(gs, fd_scalar(s, |s| gated_constant(&a, &b, s)), FD);
    let resid = &a - &b * s;
    assert_close(&gb, &(&resid * (-2.0 * s)), CF);
    assert_close_scalar(gs, -2.0 * resid.dot(&b), CF);
}

#[gradient(wrt = (a, b))]
fn zipped_dot(a: &DVector<f64>, b: &DVector<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(u, v)| u * v).sum::<f64>()
}

// `zip(&c)` takes anything iterable; a row vector pairs with a column entry by entry.
#[gradient(wrt = (a, r))]
fn zipped_three(a: &DVector<f64>, r: &RowDVector<f64>, c: &DVector<f64>) -> f64 {
    a.iter()
        .zip(r.iter())
        .zip(c)
        .map(|((&u, &v), &w)| u * v.sin() * w)
        .sum::<f64>()
}

#[gradient(wrt = a)]
fn zipped_static(a: &Vector3<f64>, b: &Vector3<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(u, v)| (u - v).powi(2)).sum()
}

#[test]
fn iterator_zip_with_tuple_patterns() {
    let mut r = rng(1404);
    let (a, b) = (vec(&mut r, 6), vec(&mut r, 6));
    let (ga, gb) = zipped_dot_grad(&a, &b);
    assert_close(&ga, &b, 0.0);
    assert_close(&gb, &a, 0.0);
    assert_close(&ga, &fd(&a, |a| zipped_dot(a, &b)), FD);
    assert_eq!(ZIPPED_DOT_GRAD_FORMULA, "∂f/∂a = b\n∂f/∂b = a");
    // `zip` would stop at the shorter; matgrad's derivatives are those of same-length zips,
    // and `try_` reports others.
    assert!(try_zipped_dot_grad(&a, &vec(&mut r, 5)).is_err());

    let row = vec(&mut r, 6).transpose();
    let c = vec(&mut r, 6);
    let (ga, gr) = zipped_three_grad(&a, &row, &c);
    assert_close(&ga, &fd(&a, |a| zipped_three(a, &row, &c)), FD);
    assert_close(&gr, &fd(&row, |row| zipped_three(&a, row, &c)), FD);
    let sin_r = row.transpose().map(f64::sin);
    assert_close(&ga, &sin_r.component_mul(&c), CF);
    let cos_r = row.transpose().map(f64::cos);
    assert_close(
        &gr,
        &a.component_mul(&cos_r).component_mul(&c).transpose(),
        CF,
    );

    let (a3, b3) = (Vector3::new(0.3, -1.2, 2.0), Vector3::new(1.0, 0.5, -0.25));
    let g = zipped_static_grad(&a3, &b3);
    assert_close(&g, &((a3 - b3) * 2.0), CF);
    assert_close(&g, &fd(&a3, |a| zipped_static(a, &b3)), FD);
}

// ---- closures capturing variables and values of the body ---------------------------------------

#[gradient(wrt = (z, s))]
fn captures_variable(z: &DVector<f64>, s: f64) -> f64 {
    z.map(|v| (v * s).tanh()).sum()
}

#[gradient(wrt = (z, s))]
fn captures_let(z: &DVector<f64>, s: f64) -> f64 {
    let t = s * s + 1.0;
    let shift = z.mean();
    z.iter().map(|v| ((v - shift) * t).tanh()).sum::<f64>()
}

#[test]
fn closures_capture_variables_and_lets() {
    let mut r = rng(1405);
    let (z, s) = (vec(&mut r, 7), 0.8);
    let (gz, gs) = captures_variable_grad(&z, s);
    assert_close(&gz, &fd(&z, |z| captures_variable(z, s)), FD);
    assert_close_scalar(gs, fd_scalar(s, |s| captures_variable(&z, s)), FD);
    let d = z.map(|v| 1.0 - (v * s).tanh().powi(2));
    assert_close(&gz, &(&d * s), CF);
    assert_close_scalar(gs, d.dot(&z), CF);

    let (gz, gs) = captures_let_grad(&z, s);
    assert_close(&gz, &fd(&z, |z| captures_let(z, s)), FD);
    assert_close_scalar(gs, fd_scalar(s, |s| captures_let(&z, s)), FD);
    let (t, shift) = (s * s + 1.0, z.mean());
    let c = z.add_scalar(-shift);
    let d = c.map(|v| 1.0 - (v * t).tanh().powi(2));
    // ∂/∂z: t d − t (Σ d)/n 1, the mean's share spread over every entry.
    let want = (&d - DVector::from_element(7, d.sum() / 7.0)) * t;
    assert_close(&gz, &want, CF);
    assert_close_scalar(gs, 2.0 * s * d.dot(&c), CF);
}

// ---- realistic losses ----------------------------------------------------------------------

// Logistic regression as written with an iterator: Σ ln(1 + e^zᵢ) − yᵢ zᵢ.
#[gradient(wrt = w, hessian)]
fn logistic_iter(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let z = x * w;
    z.iter()
        .zip(y.iter())
        .map(|(&z, &y)| (1.0 + z.exp()).ln() - y * z)
        .sum::<f64>()
}

// Poisson regression: Σ e^zᵢ − yᵢ zᵢ, with the exponential passed by its path.
#[gradient(wrt = w, hessian)]
fn poisson(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let z = x * w;
    z.map(f64::exp).sum() - y.dot(&z)
}

// Binary cross-entropy on the probabilities p = σ(Xw), the complement of the labels a constant
// `map` of them.
#[gradient(wrt = w)]
fn cross_entropy(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let p = (x * w).map(|z| 1.0 / (1.0 + (-z).exp()));
    -(y.dot(&p.map(f64::ln)) + y.map(|v| 1.0 - v).dot(&p.map(|v| (1.0 - v).ln())))
}

// Class weights computed before the closure, as a constant map of the labels (a branch on an
// entry inside the closure is an error that says to do this).
#[gradient(wrt = w)]
fn weighted_logistic(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let c = y.map(|v| if v > 0.5 { 2.0 } else { 1.0 });
    let z = x * w;
    let loss = z.zip_map(y, |z, y| (1.0 + z.exp()).ln() - y * z);
    loss.component_mul(&c).sum()
}

/// Central differences of a gradient along a direction.
fn fd_hvp(
    w: &DVector<f64>,
    v: &DVector<f64>,
    grad: impl Fn(&DVector<f64>) -> DVector<f64>,
) -> DVector<f64> {
    let h = 1e-5;
    (grad(&(w + v * h)) - grad(&(w - v * h))) / (2.0 * h)
}

#[test]
fn logistic_regression_written_with_zip() {
    let mut r = rng(1406);
    let (x, w, v) = (mat(&mut r, 7, 4), vec(&mut r, 4), vec(&mut r, 4));
    let y = labels(&mut r, 7);
    let p = (&x * &w).map(sigmoid);

    let g = logistic_iter_grad(&x, &w, &y);
    assert_close(&g, &fd(&w, |w| logistic_iter(&x, w, &y)), FD);
    assert_close(&g, &(x.transpose() * (&p - &y)), CF);
    let (val, g2) = logistic_iter_value_and_grad(&x, &w, &y);
    assert_close_scalar(val, logistic_iter(&x, &w, &y), CF);
    assert_close(&g2, &g, 0.0);

    // ∇² = Xᵀ diag(p ⊙ (1 − p)) X
    let d = DMatrix::from_diagonal(&p.map(|q| q * (1.0 - q)));
    let hess = x.transpose() * d * &x;
    assert_close(&logistic_iter_hessian(&x, &w, &y), &hess, CF);
    let hv = logistic_iter_hvp(&x, &w, &y, &v);
    assert_close(&hv, &(&hess * &v), CF);
    assert_close(&hv, &fd_hvp(&w, &v, |w| logistic_iter_grad(&x, w, &y)), FD);
}

#[test]
fn poisson_regression_with_map_of_exp() {
    let mut r = rng(1407);
    let (x, w, v) = (mat(&mut r, 7, 4), vec(&mut r, 4), vec(&mut r, 4));
    let y = vec(&mut r, 7).map(|v| (3.0 * (v + 1.0)).round());
    let mu = (&x * &w).map(f64::exp);

    let g = poisson_grad(&x, &w, &y);
    assert_close(&g, &fd(&w, |w| poisson(&x, w, &y)), FD);
    assert_close(&g, &(x.transpose() * (&mu - &y)), CF);
    assert_eq!(POISSON_GRAD_FORMULA, "∂f/∂w = xᵀ(exp(x w) − y)");

    // ∇² = Xᵀ diag(e^{Xw}) X
    let hess = x.transpose() * DMatrix::from_diagonal(&mu) * &x;
    assert_close(&poisson_hessian(&x, &w, &y), &hess, CF);
    let hv = poisson_hvp(&x, &w, &y, &v);
    assert_close(&hv, &(&hess * &v), CF);
    assert_close(&hv, &fd_hvp(&w, &v, |w| poisson_grad(&x, w, &y)), FD);
}

#[test]
fn cross_entropy_with_a_constant_map_of_the_labels() {
    let mut r = rng(1408);
    let (x, w) = (mat(&mut r, 7, 4), vec(&mut r, 4));
    let y = labels(&mut r, 7);
    let p = (&x * &w).map(sigmoid);

    let g = cross_entropy_grad(&x, &w, &y);
    assert_close(&g, &fd(&w, |w| cross_entropy(&x, w, &y)), FD);
    assert_close(&g, &(x.transpose() * (&p - &y)), 1e-9);
    let (val, g2) = cross_entropy_value_and_grad(&x, &w, &y);
    assert_close_scalar(val, cross_entropy(&x, &w, &y), CF);
    assert_close(&g2, &g, 0.0);
    assert!(try_cross_entropy_grad(&x, &w, &DVector::zeros(6)).is_err());
}

#[test]
fn weights_computed_before_the_closure() {
    let mut r = rng(1410);
    let (x, w) = (mat(&mut r, 7, 4), vec(&mut r, 4));
    let y = labels(&mut r, 7);
    let p = (&x * &w).map(sigmoid);
    let c = y.map(|v| if v > 0.5 { 2.0 } else { 1.0 });
    let g = weighted_logistic_grad(&x, &w, &y);
    assert_close(&g, &fd(&w, |w| weighted_logistic(&x, w, &y)), FD);
    assert_close(&g, &(x.transpose() * (&p - &y).component_mul(&c)), CF);
    assert_eq!(
        WEIGHTED_LOGISTIC_GRAD_FORMULA,
        "∂f/∂w = xᵀ(exp(x w) ⊙ (c ⊘ (1 + exp(x w))) − y ⊙ c)"
    );
}

/// The formulas of the losses above, printed for the record (`--nocapture`).
#[test]
fn formulas_of_the_realistic_losses() {
    for (name, formula) in [
        ("logistic_iter", LOGISTIC_ITER_GRAD_FORMULA),
        ("logistic_iter hessian", LOGISTIC_ITER_HESSIAN_FORMULA),
        ("poisson", POISSON_GRAD_FORMULA),
        ("poisson hessian", POISSON_HESSIAN_FORMULA),
        ("cross_entropy", CROSS_ENTROPY_GRAD_FORMULA),
        ("gated", GATED_GRAD_FORMULA),
        ("captures_let", CAPTURES_LET_GRAD_FORMULA),
        ("weighted_logistic", WEIGHTED_LOGISTIC_GRAD_FORMULA),
    ] {
        println!("{name}:\n{formula}\n");
        assert!(
            formula.starts_with("∂f/∂") || formula.starts_with("∇²f"),
            "{formula}"
        );
    }
    assert!(LOGISTIC_ITER_GRAD_FORMULA.contains("xᵀ"));
}

// ---- Jacobians -------------------------------------------------------------------------------

#[jacobian(wrt = p)]
fn gate(a: &DVector<f64>, p: &DVector<f64>) -> DVector<f64> {
    a.zip_map(p, |u, v| u * v.tanh())
}

#[jacobian(wrt = w)]
fn layer(x: &DMatrix<f64>, w: &DVector<f64>) -> DVector<f64> {
    (x * w).map(f64::tanh)
}

fn as_mat(v: &DVector<f64>) -> DMatrix<f64> {
    DMatrix::from_column_slice(v.len(), 1, v.as_slice())
}

fn as_vec(m: &DMatrix<f64>) -> DVector<f64> {
    DVector::from_column_slice(m.as_slice())
}

#[test]
fn jacobians_through_zip_map_and_a_function_path() {
    let mut r = rng(1409);
    let (a, p) = (vec(&mut r, 6), vec(&mut r, 6));
    let j = gate_jacobian(&a, &p);
    let want = DMatrix::from_diagonal(&a.zip_map(&p, |u, v| u * (1.0 - v.tanh().powi(2))));
    assert_close(&j, &want, CF);
    let numeric = fd_jacobian(&as_mat(&p), &|p| as_mat(&gate(&a, &as_vec(p))));
    assert_close(&j, &numeric, FD);
    let (val, j2) = gate_value_and_jacobian(&a, &p);
    assert_close(&val, &gate(&a, &p), 0.0);
    assert_close(&j2, &j, 0.0);

    let (x, w) = (mat(&mut r, 7, 4), vec(&mut r, 4));
    let j = layer_jacobian(&x, &w);
    let d = (&x * &w).map(|v| 1.0 - v.tanh().powi(2));
    assert_close(&j, &(DMatrix::from_diagonal(&d) * &x), CF);
    let numeric = fd_jacobian(&as_mat(&w), &|w| as_mat(&layer(&x, &as_vec(w))));
    assert_close(&j, &numeric, FD);
    println!("gate:\n{GATE_JACOBIAN_FORMULA}\n\nlayer:\n{LAYER_JACOBIAN_FORMULA}");
}
