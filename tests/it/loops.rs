//! Loops on the active path (issue "Loops"): recurrences, iterations and accumulations, each
//! against central differences and, where one exists, its closed form.

use matgrad::gradient;
use matgrad::nalgebra::{DMatrix, DVector};

use crate::support::*;

/// A loss accumulated sample by sample.
#[gradient(wrt = w)]
fn accumulated(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let mut loss = 0.0;
    for i in 0..x.nrows() {
        let r = (x.row(i) * w)[0] - y[i];
        loss += r * r;
    }
    loss
}

#[test]
fn accumulated_loss_is_least_squares() {
    let mut g = rng(1501);
    let (x, w, y) = (mat(&mut g, 9, 4), vec(&mut g, 4), vec(&mut g, 9));
    let grad = accumulated_grad(&x, &w, &y);
    let closed = 2.0 * x.transpose() * (&x * &w - &y);
    assert_close(&grad, &closed, 1e-12);
    assert_close(&grad, &fd(&w, |w| accumulated(&x, w, &y)), 1e-6);
    let (v, g2) = accumulated_value_and_grad(&x, &w, &y);
    assert_close_scalar(v, accumulated(&x, &w, &y), 1e-13);
    assert_close(&g2, &grad, 1e-14);
}

/// A recurrent network: hₜ₊₁ = tanh(W hₜ + U xₜ).
#[gradient(wrt = (w, u))]
fn rnn(w: &DMatrix<f64>, u: &DMatrix<f64>, xs: &DMatrix<f64>, h0: &DVector<f64>) -> f64 {
    let mut h = h0.clone();
    for t in 0..xs.ncols() {
        h = (w * &h + u * xs.column(t)).map(|v| v.tanh());
    }
    h.norm_squared()
}

#[test]
fn rnn_gradient_matches_central_differences() {
    let mut g = rng(1502);
    let (w, u, xs, h0) = (
        mat(&mut g, 5, 5) * 0.5,
        mat(&mut g, 5, 3),
        mat(&mut g, 3, 7),
        vec(&mut g, 5),
    );
    let (gw, gu) = rnn_grad(&w, &u, &xs, &h0);
    assert_close(&gw, &fd(&w, |w| rnn(w, &u, &xs, &h0)), 1e-6);
    assert_close(&gu, &fd(&u, |u| rnn(&w, u, &xs, &h0)), 1e-6);
}

/// Explicit Euler steps of y′ = A y.
#[gradient(wrt = a)]
fn euler(a: &DMatrix<f64>, y0: &DVector<f64>, target: &DVector<f64>, steps: usize) -> f64 {
    let dt = 0.01;
    let mut y = y0.clone();
    for _ in 0..steps {
        y += dt * (a * &y);
    }
    (y - target).norm_squared()
}

#[test]
fn euler_gradient_matches_central_differences() {
    let mut g = rng(1503);
    let (a, y0, target) = (mat(&mut g, 4, 4), vec(&mut g, 4), vec(&mut g, 4));
    let grad = euler_grad(&a, &y0, &target, 50);
    assert_close(&grad, &fd(&a, |a| euler(a, &y0, &target, 50)), 1e-6);
}

/// A sum over entries, written as a loop that reads the variable's entries by index.
#[gradient(wrt = w)]
fn sum_of_squares(w: &DVector<f64>) -> f64 {
    let mut total = 0.0;
    for i in 0..w.len() {
        total += w[i] * w[i];
    }
    total
}

/// Straight-line updates of a `let mut`.
#[gradient(wrt = w)]
fn updated(w: &DVector<f64>) -> f64 {
    let mut r = w * 2.0;
    r += w;
    r -= w * 0.5;
    r *= 3.0;
    r.norm_squared()
}

#[test]
fn entries_by_index_and_updates() {
    let mut g = rng(1504);
    let w = vec(&mut g, 6);
    assert_close(&sum_of_squares_grad(&w), &(2.0 * &w), 1e-14);
    assert_close(&sum_of_squares_grad(&w), &fd(&w, sum_of_squares), 1e-7);
    // r = 7.5 w, f = 56.25 ‖w‖²
    assert_close(&updated_grad(&w), &(112.5 * &w), 1e-12);
    assert_close(&updated_grad(&w), &fd(&w, updated), 1e-6);
}
