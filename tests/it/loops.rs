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
    r /= 2.0;
    r.norm_squared()
}

#[test]
fn entries_by_index_and_updates() {
    let mut g = rng(1504);
    let w = vec(&mut g, 6);
    assert_close(&sum_of_squares_grad(&w), &(2.0 * &w), 1e-14);
    assert_close(&sum_of_squares_grad(&w), &fd(&w, sum_of_squares), 1e-7);
    // r = 3.75 w, f = 14.0625 ‖w‖²
    assert_close(&updated_grad(&w), &(28.125 * &w), 1e-12);
    assert_close(&updated_grad(&w), &fd(&w, updated), 1e-6);
}

/// Second order through a loop: the Hessian of the accumulated least-squares loss is 2XᵀX.
#[gradient(wrt = w, hessian)]
fn accumulated2(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let mut loss = 0.0;
    for i in 0..x.nrows() {
        let r = (x.row(i) * w)[0] - y[i];
        loss += r * r;
    }
    loss
}

#[test]
fn hessian_through_a_loop() {
    let mut g = rng(1505);
    let (x, w, y) = (mat(&mut g, 9, 4), vec(&mut g, 4), vec(&mut g, 9));
    let h = accumulated2_hessian(&x, &w, &y);
    assert_close(&h, &(2.0 * x.transpose() * &x), 1e-12);
    let v = vec(&mut g, 4);
    assert_close(
        &accumulated2_hvp(&x, &w, &y, &v),
        &(2.0 * x.transpose() * (&x * &v)),
        1e-12,
    );
}

/// A recurrent network's Hessian-vector product, against differences of its gradient.
#[gradient(wrt = w, hessian)]
fn rnn2(w: &DMatrix<f64>, xs: &DMatrix<f64>, h0: &DVector<f64>) -> f64 {
    let mut h = h0.clone();
    for t in 0..xs.ncols() {
        h = (w * &h + xs.column(t)).map(|v| v.tanh());
    }
    h.norm_squared()
}

#[test]
fn rnn_hvp_matches_differences_of_the_gradient() {
    let mut g = rng(1506);
    let (w, xs, h0) = (mat(&mut g, 4, 4) * 0.5, mat(&mut g, 4, 6), vec(&mut g, 4));
    let v = mat(&mut g, 4, 4);
    let eps = 1e-6;
    let fd_hvp = (rnn2_grad(&(&w + &v * eps), &xs, &h0) - rnn2_grad(&(&w - &v * eps), &xs, &h0))
        / (2.0 * eps);
    assert_close(&rnn2_hvp(&w, &xs, &h0, &v), &fd_hvp, 1e-6);
}

/// The Jacobian of an integrated trajectory's end point: y′ = −k ⊙ y by explicit Euler steps,
/// yₙ = (1 − dt k)ⁿ ⊙ y₀.
#[matgrad::jacobian(wrt = k)]
fn decay(k: &DVector<f64>, y0: &DVector<f64>, steps: usize) -> DVector<f64> {
    let dt = 0.01;
    let mut y = y0.clone();
    for _ in 0..steps {
        y -= dt * k.component_mul(&y);
    }
    y
}

#[test]
fn jacobian_of_a_trajectory() {
    let mut g = rng(1507);
    let (k, y0) = (vec(&mut g, 5).map(|v| v.abs() + 0.5), vec(&mut g, 5));
    let n = 200;
    let j = decay_jacobian(&k, &y0, n);
    let dt = 0.01;
    let closed = DMatrix::from_diagonal(&DVector::from_fn(5, |i, _| {
        -dt * (n as f64) * (1.0 - dt * k[i]).powi(n as i32 - 1) * y0[i]
    }));
    assert_close(&j, &closed, 1e-12);
    let km = DMatrix::from_column_slice(5, 1, k.as_slice());
    let numeric = fd_jacobian(&km, &|k| {
        let k = DVector::from_column_slice(k.as_slice());
        DMatrix::from_column_slice(5, 1, decay(&k, &y0, n).as_slice())
    });
    assert_close(&j, &numeric, 1e-6);
}

#[test]
fn second_order_values_are_the_functions() {
    let mut g = rng(1508);
    let (x, w, y) = (mat(&mut g, 7, 3), vec(&mut g, 3), vec(&mut g, 7));
    assert_close_scalar(
        accumulated2(&x, &w, &y),
        (&x * &w - &y).norm_squared(),
        1e-12,
    );
    let (w2, xs, h0) = (mat(&mut g, 4, 4) * 0.5, mat(&mut g, 4, 6), vec(&mut g, 4));
    // The Hessian's columns are Hessian-vector products with the unit matrices.
    let h = rnn2_hessian(&w2, &xs, &h0);
    let e = DMatrix::from_fn(4, 4, |i, j| if (i, j) == (2, 1) { 1.0 } else { 0.0 });
    let col = rnn2_hvp(&w2, &xs, &h0, &e);
    assert_close(
        &h.column(4 + 2).clone_owned(),
        &DVector::from_column_slice(col.as_slice()),
        1e-12,
    );
    assert_close(&h, &h.transpose(), 1e-9);
    let (value, grad) = rnn2_value_and_grad(&w2, &xs, &h0);
    assert_close_scalar(value, rnn2(&w2, &xs, &h0), 1e-13);
    assert_close(&grad, &fd(&w2, |w| rnn2(w, &xs, &h0)), 1e-6);
}

/// Loop forms: inclusive and reversed ranges, steps, several carried values of both kinds,
/// `let`s, a branch on the index and `continue`.
#[gradient(wrt = w)]
fn forms(w: &DVector<f64>, n: usize) -> f64 {
    let mut s = 0.0;
    let mut v = w.clone();
    for i in (0..n).rev() {
        let k = (i + 1) as f64;
        v = v.map(|x| x.sin()) * 0.5 + w * (1.0 / k);
        s += v.sum() * k;
    }
    for i in (1..=n).step_by(2) {
        if i == 3 {
            continue;
        }
        let scale = if i % 4 == 1 { 2.0 } else { -1.0 };
        s += scale * v[i % w.len()] * w[0];
    }
    s
}

#[test]
fn loop_forms_match_central_differences() {
    let mut g = rng(1509);
    let w = vec(&mut g, 4);
    for n in [0, 1, 5, 8] {
        let grad = forms_grad(&w, n);
        assert_close(&grad, &fd(&w, |w| forms(w, n)), 1e-6);
        let (v, _) = forms_value_and_grad(&w, n);
        assert_close_scalar(v, forms(&w, n), 1e-13);
    }
}

/// Nested loops: the inner loop's carry is the outer loop's.
#[gradient(wrt = a)]
fn nested(a: &DMatrix<f64>, x0: &DVector<f64>) -> f64 {
    let mut x = x0.clone();
    let mut total = 0.0;
    for _ in 0..3 {
        for _ in 0..4 {
            x = (a * &x).map(|v| v.tanh());
        }
        total += x.norm_squared();
    }
    total
}

#[test]
fn nested_loops_match_central_differences() {
    let mut g = rng(1510);
    let (a, x0) = (mat(&mut g, 3, 3), vec(&mut g, 3));
    assert_close(&nested_grad(&a, &x0), &fd(&a, |a| nested(a, &x0)), 1e-6);
}

/// A long loop: 1,000 Euler steps of a damped oscillator.
#[gradient(wrt = (k, c))]
fn oscillator(k: f64, c: f64, x0: &DVector<f64>) -> f64 {
    let dt = 0.001;
    let mut x = x0[0];
    let mut v = x0[1];
    for _ in 0..1000 {
        let a = -k * x - c * v;
        x += dt * v;
        v += dt * a;
    }
    x * x + v
}

#[test]
fn thousand_steps_match_central_differences() {
    let x0 = DVector::from_vec(vec![1.0, 0.5]);
    let (gk, gc) = oscillator_grad(2.0, 0.3, &x0);
    let dk = fd_scalar(2.0, |k| oscillator(k, 0.3, &x0));
    let dc = fd_scalar(0.3, |c| oscillator(2.0, c, &x0));
    assert_close_scalar(gk, dk, 1e-6);
    assert_close_scalar(gc, dc, 1e-6);
}

/// Two carries swapped each iteration, and a carry set to an outer value.
#[gradient(wrt = (a, b))]
fn swapping(a: &DVector<f64>, b: &DVector<f64>) -> f64 {
    let mut p = a.clone();
    let mut q = b.clone();
    let mut r = a * 0.0;
    for i in 0..5 {
        if i == 2 {
            continue;
        }
        let t = p.clone();
        p = q * 2.0;
        q = t;
        r = a.clone();
    }
    p.dot(&q) + r.sum()
}

#[test]
fn swapped_carries_match_central_differences() {
    let mut g = rng(1511);
    let (a, b) = (vec(&mut g, 3), vec(&mut g, 3));
    let (ga, gb) = swapping_grad(&a, &b);
    assert_close(&ga, &fd(&a, |a| swapping(a, &b)), 1e-6);
    assert_close(&gb, &fd(&b, |b| swapping(&a, b)), 1e-6);
}

/// The recurrent network again, with checkpointing: about √n stored states, each segment of
/// the forward pass computed again for the backward pass.
#[gradient(wrt = (w, u), checkpoint)]
fn rnn_checkpointed(
    w: &DMatrix<f64>,
    u: &DMatrix<f64>,
    xs: &DMatrix<f64>,
    h0: &DVector<f64>,
) -> f64 {
    let mut h = h0.clone();
    for t in 0..xs.ncols() {
        if t == 1000 {
            break;
        }
        h = (w * &h + u * xs.column(t)).map(|v| v.tanh());
    }
    h.norm_squared()
}

#[test]
fn checkpointed_gradients_are_the_stored_ones_to_the_last_bit() {
    let mut g = rng(1512);
    for steps in [0, 1, 2, 7, 16, 17, 100] {
        let (w, u, xs, h0) = (
            mat(&mut g, 5, 5) * 0.4,
            mat(&mut g, 5, 3),
            mat(&mut g, 3, steps),
            vec(&mut g, 5),
        );
        assert_eq!(rnn(&w, &u, &xs, &h0), rnn_checkpointed(&w, &u, &xs, &h0));
        let stored = rnn_grad(&w, &u, &xs, &h0);
        let recomputed = rnn_checkpointed_grad(&w, &u, &xs, &h0);
        assert_eq!(stored, recomputed, "{steps} steps");
        assert_eq!(
            rnn_value_and_grad(&w, &u, &xs, &h0).0,
            rnn_checkpointed_value_and_grad(&w, &u, &xs, &h0).0
        );
        let (xs2, v) = (mat(&mut g, 5, steps), mat(&mut g, 5, 5));
        assert_eq!(
            rnn2_hvp(&w, &xs2, &h0, &v),
            rnn2_checkpointed_hvp(&w, &xs2, &h0, &v),
            "{steps} steps"
        );
        assert_eq!(
            rnn2_grad(&w, &xs2, &h0),
            rnn2_checkpointed_grad(&w, &xs2, &h0)
        );
        assert_eq!(rnn2(&w, &xs2, &h0), rnn2_checkpointed(&w, &xs2, &h0));
    }
}

#[gradient(wrt = w, hessian, checkpoint)]
fn rnn2_checkpointed(w: &DMatrix<f64>, xs: &DMatrix<f64>, h0: &DVector<f64>) -> f64 {
    let mut h = h0.clone();
    for t in 0..xs.ncols() {
        h = (w * &h + xs.column(t)).map(|v| v.tanh());
    }
    h.norm_squared()
}

/// Nested loops, second order: the inner loop's tangent runs inside the outer loop's.
#[gradient(wrt = a, hessian)]
fn nested2(a: &DMatrix<f64>, x0: &DVector<f64>) -> f64 {
    let mut x = x0.clone();
    let mut total = 0.0;
    for _ in 0..3 {
        for _ in 0..2 {
            x = (a * &x).map(|v| v.tanh());
        }
        total += x.norm_squared();
    }
    total
}

#[test]
fn nested_hvp_and_the_recurrence_formula() {
    let mut g = rng(1513);
    let (a, x0, v) = (mat(&mut g, 3, 3), vec(&mut g, 3), mat(&mut g, 3, 3));
    let eps = 1e-6;
    let fd_hvp =
        (nested2_grad(&(&a + &v * eps), &x0) - nested2_grad(&(&a - &v * eps), &x0)) / (2.0 * eps);
    assert_close(&nested2_hvp(&a, &x0, &v), &fd_hvp, 1e-6);
    assert_close(&nested2_grad(&a, &x0), &fd(&a, |a| nested2(a, &x0)), 1e-6);
    // The derivative of a loop is its adjoint recurrence, not an unrolled expression.
    assert_eq!(
        RNN_GRAD_FORMULA.lines().next(),
        Some("∂f/∂w = Σ_t((h̄[t+1] ⊙ (1 − h[t+1]^⊙2)) h[t]ᵀ)")
    );
    assert!(
        RNN_GRAD_FORMULA.contains(
            "where h̄[t] = wᵀ(h̄[t+1] ⊙ (1 − h[t+1]^⊙2))   for t = n−1, …, 0, from h̄[n] = 2 h[n]"
        ),
        "{RNN_GRAD_FORMULA}"
    );
    assert!(
        EULER_GRAD_FORMULA.contains("[i+1] + dt aᵀ y\u{304}[i+1]   for i = n−1, …, 0"),
        "{EULER_GRAD_FORMULA}"
    );
}

/// One step of a layer, as a `#[differentiable]` helper the loop calls.
#[matgrad::differentiable]
fn layer(w: &DMatrix<f64>, h: &DVector<f64>) -> DVector<f64> {
    (w * h).map(|v| if v > 0.0 { v } else { 0.1 * v })
}

/// A helper, a branch on a variable, blocks of rows by the index, and `*=` in one loop.
#[gradient(wrt = (w, x))]
fn as_written(w: &DMatrix<f64>, x: &DMatrix<f64>, h0: &DVector<f64>) -> f64 {
    let b = 2;
    let mut h = h0.clone();
    let mut s = 1.0;
    for i in 0..x.nrows() / b {
        let block = x.rows(i * b, b);
        h = layer(w, &h) + block.transpose() * block.column_sum();
        let m = h.sum();
        s *= if m > 0.0 {
            1.0 + 0.1 * m
        } else {
            1.0 - 0.05 * m
        };
    }
    s + h.norm_squared()
}

#[test]
fn helpers_branches_and_blocks_in_a_loop() {
    let mut g = rng(1514);
    let (w, x, h0) = (mat(&mut g, 3, 3) * 0.5, mat(&mut g, 8, 3), vec(&mut g, 3));
    let (gw, gx) = as_written_grad(&w, &x, &h0);
    assert_close(&gw, &fd(&w, |w| as_written(w, &x, &h0)), 1e-6);
    assert_close(&gx, &fd(&x, |x| as_written(&w, x, &h0)), 1e-6);
}

/// A counter that only steers which iterations run may be updated in place.
#[gradient(wrt = w)]
fn every_other(w: &DVector<f64>) -> f64 {
    let mut s = 0.0;
    let mut k = 0;
    for i in 0..w.len() {
        k += 1;
        if k % 2 == 0 {
            continue;
        }
        s += w[i] * w[i] * (i as f64 + 1.0);
    }
    s
}

#[test]
fn a_counter_steering_the_iterations() {
    let w = DVector::from_column_slice(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    let want = DVector::from_column_slice(&[2.0, 0.0, 18.0, 0.0, 50.0]);
    assert_close(&every_other_grad(&w), &want, 1e-14);
    assert_close(&every_other_grad(&w), &fd(&w, every_other), 1e-7);
}

/// `break` and `continue` after the body changed carried values, on constant conditions.
#[gradient(wrt = w)]
fn early_exit(w: &DVector<f64>, stop: usize, skip: usize) -> f64 {
    let mut x = w.clone();
    let mut s = 0.0;
    for i in 0..10 {
        x = x.map(|v| (0.5 * v).sin()) + w * 0.1;
        s += x.sum();
        if i == skip {
            continue;
        }
        s += x.norm_squared();
        if i == stop {
            break;
        }
        x *= 1.5;
    }
    s + x.sum()
}

#[test]
fn break_and_continue_after_updates() {
    let mut g = rng(1515);
    let w = vec(&mut g, 4);
    for (stop, skip) in [(3, 1), (0, 0), (9, 5), (20, 20), (2, 2)] {
        let grad = early_exit_grad(&w, stop, skip);
        assert_close(&grad, &fd(&w, |w| early_exit(w, stop, skip)), 1e-6);
        assert_close_scalar(
            early_exit_value_and_grad(&w, stop, skip).0,
            early_exit(&w, stop, skip),
            1e-13,
        );
    }
}
