#!/usr/bin/env python3
"""matgrad vs JAX: the objectives of benches/gradients.rs and benches/jacobians.rs in JAX.

Two subcommands (benches/jax/run.sh drives both; see benches/jax/README.md):

  compare.py time  [--out FILE] [OBJECTIVE ...]   check, then time, the JAX derivatives
  compare.py table [--jax FILE] [--criterion DIR] [--logs DIR] [OBJECTIVE ...]
                                                  join them with criterion's results

Every objective is written as the Rust benchmark writes it (`value` there), with the same shapes
and the same kind of random data (uniform in [-scale, scale], the same SPD and well-conditioned
constructions; numpy's generator, not rand's StdRng, so the numbers differ, not their
distribution). Float64, CPU. Each JAX derivative is checked before it is timed: against the closed
form that the Rust hand-written reference computes (ported to numpy, at the benchmark's size) and
against central differences (at a small size); a failed check aborts, so a wrong derivative is
never timed.

Timing: the jitted function is compiled and warmed up, then called in batches of k calls (k so
that a batch takes about 2 ms), each call followed by `block_until_ready`; the median over the
batches of the per-call time is reported. The clock is the process's CPU time
(`time.process_time`: all threads of the process, so XLA's worker threads count), the analogue of
the Rust benchmarks' thread CPU time on a shared machine; wall time is recorded too. Per-call
times include JAX's Python dispatch, which the table also reports on its own (`dispatch floor`: a
jitted function returning its 3-vector argument plus 1).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time

# ------------------------------------------------------------------------------------------------
# The objectives. Each builder takes a numpy Generator and a "small" flag and returns a dict:
#   f        the function, in jax.numpy, as the Rust benchmark's body writes it
#   args     its arguments (numpy arrays / floats)
#   wrt      the argument positions differentiated
#   closed   closed-form derivative (numpy), the formula of the Rust hand-written reference
#   size     a label
# ------------------------------------------------------------------------------------------------


def _u(r, shape, scale=1.0):
    return scale * r.uniform(-1.0, 1.0, size=shape)


def _spd(r, n):
    """Eigenvalues in about [1, 5]: I + B Bᵀ / n, exactly symmetric (common::spd)."""
    import numpy as np

    b = _u(r, (n, n))
    s = np.eye(n) + b @ b.T / n
    return 0.5 * (s + s.T)


def _well_conditioned(r, n):
    """U[-1, 1] + 2√n I (common::well_conditioned)."""
    import numpy as np

    return _u(r, (n, n)) + 2.0 * math.sqrt(n) * np.eye(n)


def _sig(z):
    import numpy as np

    return 1.0 / (1.0 + np.exp(-z))


def build(name, r, small=False):
    import jax.numpy as jnp
    import numpy as np

    if name in ("least_squares", "ridge"):
        m, n = (40, 8) if small else (2000, 200)
        x, w, y = _u(r, (m, n)), _u(r, n), _u(r, m)
        lam = 0.5
        if name == "least_squares":

            def f(x, w, y):
                return jnp.sum((x @ w - y) ** 2)

            closed = lambda x, w, y: 2 * x.T @ (x @ w - y)
            return dict(f=f, args=(x, w, y), wrt=(1,), closed=closed, size=f"X {m}×{n}")

        def f(x, w, y, lam):
            return jnp.sum((x @ w - y) ** 2) + lam * jnp.sum(w**2)

        closed = lambda x, w, y, lam: 2 * x.T @ (x @ w - y) + 2 * lam * w
        return dict(f=f, args=(x, w, y, lam), wrt=(1,), closed=closed, size=f"X {m}×{n}")

    if name == "logistic":
        m, n = (50, 6) if small else (5000, 100)
        x, w = _u(r, (m, n), 0.3), _u(r, n)
        y = (r.uniform(size=m) < 0.5).astype(np.float64)

        def f(x, w, y):
            z = x @ w
            return jnp.sum(jnp.log1p(jnp.exp(z))) - y @ z

        closed = lambda x, w, y: x.T @ (_sig(x @ w) - y)
        return dict(f=f, args=(x, w, y), wrt=(1,), closed=closed, size=f"X {m}×{n}")

    if name == "trace_quadratic":
        n, k = (9, 4) if small else (300, 50)
        a, w = _u(r, (n, n)), _u(r, (n, k))

        def f(a, w):
            return jnp.trace(w.T @ a @ w)

        closed = lambda a, w: (a + a.T) @ w
        return dict(f=f, args=(a, w), wrt=(1,), closed=closed, size=f"A {n}×{n}, W {n}×{k}")

    if name == "factorization":
        m, n, k = (8, 6, 3) if small else (300, 200, 20)
        y, u, v = _u(r, (m, n)), _u(r, (m, k)), _u(r, (n, k))

        def f(y, u, v):
            return jnp.sum((y - u @ v.T) ** 2)

        def closed(y, u, v):
            res = 2 * (u @ v.T - y)
            return (res @ v, res.T @ u)

        return dict(f=f, args=(y, u, v), wrt=(1, 2), closed=closed, size=f"Y {m}×{n}, rank {k}")

    if name in ("gaussian_nll", "gaussian_nll~solve"):
        n = 6 if small else 200
        x, mu, sigma = _u(r, n), _u(r, n), _spd(r, n)

        if name == "gaussian_nll":
            # As the Rust body: ln det Σ, and the inverse times r.
            def f(x, mu, sigma):
                rr = x - mu
                return 0.5 * jnp.log(jnp.linalg.det(sigma)) + 0.5 * rr @ (jnp.linalg.inv(sigma) @ rr)

        else:
            # What a JAX user would write: slogdet and a solve (no inverse in the value).
            def f(x, mu, sigma):
                rr = x - mu
                return 0.5 * jnp.linalg.slogdet(sigma)[1] + 0.5 * rr @ jnp.linalg.solve(sigma, rr)

        def closed(x, mu, sigma):
            rr = x - mu
            g = np.linalg.inv(sigma.T)
            return 0.5 * g - 0.5 * np.outer(g @ rr, g.T @ rr)

        return dict(f=f, args=(x, mu, sigma), wrt=(2,), closed=closed, size=f"Σ {n}×{n} SPD")

    if name in ("bilinear_inverse", "bilinear_inverse~solve"):
        n = 6 if small else 200
        a, x, b = _u(r, n), _well_conditioned(r, n), _u(r, n)

        if name == "bilinear_inverse":

            def f(a, x, b):
                return a @ (jnp.linalg.inv(x) @ b)

        else:

            def f(a, x, b):
                return a @ jnp.linalg.solve(x, b)

        def closed(a, x, b):
            return -np.outer(np.linalg.solve(x.T, a), np.linalg.solve(x, b))

        return dict(f=f, args=(a, x, b), wrt=(1,), closed=closed, size=f"X {n}×{n}")

    if name == "trace_sixth_power":
        n = 7 if small else 100
        x = _u(r, (n, n), 0.3 if small else 0.1)

        def f(x):
            return jnp.trace(x @ x @ x @ x @ x @ x)

        closed = lambda x: 6 * np.linalg.matrix_power(x, 5).T
        return dict(f=f, args=(x,), wrt=(0,), closed=closed, size=f"X {n}×{n}")

    if name == "tanh_layer":
        (h, d, o) = (5, 7, 3) if small else (256, 512, 10)
        w, v = _u(r, (h, d), 1 / math.sqrt(d)), _u(r, (o, h), 1 / math.sqrt(h))
        x, t = _u(r, d), _u(r, o)

        def f(w, v, x, t):
            return jnp.sum((v @ jnp.tanh(w @ x) - t) ** 2)

        def closed(w, v, x, t):
            hh = np.tanh(w @ x)
            res = 2 * (v @ hh - t)
            return (np.outer((v.T @ res) * (1 - hh * hh), x), np.outer(res, hh))

        return dict(f=f, args=(w, v, x, t), wrt=(0, 1), closed=closed, size=f"W {h}×{d}, V {o}×{h}")

    if name in ("log_det", "log_det~slogdet"):
        n = 8 if small else 200
        # Eigenvalues near 1: det X of the unscaled matrix is ~1e290 at n = 200, and its square,
        # which jvp of grad of det meets, overflows (as in second.rs).
        x = _well_conditioned(r, n) / (2.0 * math.sqrt(n))

        if name == "log_det":
            # As the Rust body: ln of the determinant.
            def f(x):
                return jnp.log(jnp.linalg.det(x))

        else:

            def f(x):
                return jnp.linalg.slogdet(x)[1]

        closed = lambda x: np.linalg.inv(x).T
        return dict(f=f, args=(x,), wrt=(0,), closed=closed, size=f"X {n}×{n}")

    if name.startswith("exp_decay_jacobian"):
        m = 12 if small else 1000
        t = np.linspace(0.0, 5.0, m)
        p = np.array([2.0, 0.7, 0.3])
        y = 2.5 * np.exp(-0.6 * t) + 0.2 + _u(r, m, 0.05)

        def f(p, t, y):
            return jnp.exp(t * -p[1]) * p[0] + jnp.ones(t.shape[0]) * p[2] - y

        def closed(p, t, y):
            e = np.exp(-p[1] * t)
            return np.stack([e, -p[0] * t * e, np.ones(m)], axis=1)

        return dict(f=f, args=(p, t, y), wrt=(0,), closed=closed, size=f"{m}×3")

    if name.startswith("tanh_layer_jacobian"):
        h, d = (5, 7) if small else (256, 512)
        w, x = _u(r, (h, d), 1 / math.sqrt(d)), _u(r, d)

        def f(w, x):
            return jnp.tanh(w @ x)

        closed = lambda w, x: (1 - np.tanh(w @ x) ** 2)[:, None] * w
        return dict(f=f, args=(w, x), wrt=(1,), closed=closed, size=f"{h}×{d}")

    raise SystemExit(f"unknown objective {name!r}")


# criterion group, Rust column ids (generated, hand-written), JAX transform, description.
ROWS = [
    ("least_squares", "least_squares", "grad", "‖Xw − y‖²"),
    ("ridge", "ridge", "grad", "‖Xw − y‖² + λ‖w‖²"),
    ("logistic", "logistic", "grad", "Σ ln(1 + eᶻ) − yᵀz"),
    ("trace_quadratic", "trace_quadratic", "grad", "tr(WᵀAW)"),
    ("factorization", "factorization", "grad", "‖Y − UVᵀ‖² w.r.t. (U, V)"),
    ("gaussian_nll", "gaussian_nll", "grad", "½ ln det Σ + ½ rᵀΣ⁻¹r w.r.t. Σ"),
    ("gaussian_nll~solve", "gaussian_nll", "grad", "  JAX with slogdet + solve"),
    ("bilinear_inverse", "bilinear_inverse", "grad", "aᵀX⁻¹b"),
    ("bilinear_inverse~solve", "bilinear_inverse", "grad", "  JAX with solve"),
    ("trace_sixth_power", "trace_sixth_power", "grad", "tr(X⁶)"),
    ("tanh_layer", "tanh_layer", "grad", "‖V tanh(Wx) − t‖² w.r.t. (W, V)"),
    ("exp_decay_jacobian", "exp_decay_jacobian", "jacfwd", "Jacobian of p₀e^(−p₁t) + p₂ − y"),
    ("exp_decay_jacobian~jacrev", "exp_decay_jacobian", "jacrev", "  JAX jacrev"),
    ("tanh_layer_jacobian", "tanh_layer_jacobian", "jacfwd", "Jacobian of tanh(Wx) w.r.t. x"),
    ("tanh_layer_jacobian~jacrev", "tanh_layer_jacobian", "jacrev", "  JAX jacrev"),
    ("least_squares@hvp", "least_squares_hvp", "hvp", "HVP (jvp of grad)"),
    ("logistic@hvp", "logistic_hvp", "hvp", "HVP (jvp of grad)"),
    ("tanh_layer@hvp", None, "hvp", "HVP (jvp of grad) w.r.t. (W, V)"),
    ("trace_quadratic@hvp", "trace_quadratic_hvp", "hvp", "HVP of tr(WᵀAW) (jvp of grad)"),
    ("log_det@hvp", "log_det_hvp", "hvp", "HVP of ln det X (jvp of grad)"),
    ("log_det~slogdet@hvp", "log_det_hvp", "hvp", "  JAX with slogdet"),
    ("least_squares@hessian", "least_squares_hessian", "hessian", "Hessian, 200×200"),
    ("logistic@hessian", "logistic_hessian", "hessian", "Hessian, 100×100"),
]
ROW = {r[0]: r for r in ROWS}
SEED = {"least_squares": 1, "ridge": 2, "logistic": 3, "trace_quadratic": 4, "factorization": 5,
        "gaussian_nll": 6, "bilinear_inverse": 7, "trace_sixth_power": 8, "tanh_layer": 9,
        "log_det": 10, "exp_decay_jacobian": 101, "tanh_layer_jacobian": 102}
BENCH_FILE = {"exp_decay_jacobian": "jacobians", "tanh_layer_jacobian": "jacobians",
              "least_squares_hvp": "second", "logistic_hvp": "second",
              "least_squares_hessian": "second", "logistic_hessian": "second",
              "trace_quadratic_hvp": "second", "log_det_hvp": "second"}
RUST_IDS = {"jacobians": ("generated_jacobian", "hand_written"), "second": ("generated", "hand_written")}


def base_name(row):
    return row.split("~")[0].split("@")[0]


def select(names):
    """Rows named by `names` (an objective selects its variants and second-order rows too)."""
    if not names:
        return [r[0] for r in ROWS]
    out = []
    for r in ROWS:
        if r[0] in names or base_name(r[0]) in names:
            out.append(r[0])
    unknown = [n for n in names if n not in ROW and n not in {base_name(r) for r in ROW}]
    if unknown:
        raise SystemExit(f"unknown objective(s): {unknown}; known: {sorted({base_name(r) for r in ROW})}")
    return out


# ------------------------------------------------------------------------------------------------
# JAX transforms
# ------------------------------------------------------------------------------------------------


def transform(obj, kind):
    """The jitted derivative and the arguments it takes (the HVP gets a direction appended)."""
    import jax

    f, wrt = obj["f"], obj["wrt"]
    argnums = wrt if len(wrt) > 1 else wrt[0]
    if kind == "grad":
        return jax.jit(jax.grad(f, argnums=argnums))
    if kind == "jacfwd":
        return jax.jit(jax.jacfwd(f, argnums=argnums))
    if kind == "jacrev":
        return jax.jit(jax.jacrev(f, argnums=argnums))
    if kind == "hessian":
        return jax.jit(jax.hessian(f, argnums=argnums))
    if kind == "hvp":
        # Forward over reverse: jvp of the gradient along the direction(s) passed after the args.
        nargs = len(obj["args"])

        def hvp(*a):
            args, dirs = a[:nargs], a[nargs:]

            def g(*vs):
                full = list(args)
                for i, v in zip(wrt, vs):
                    full[i] = v
                return jax.grad(f, argnums=wrt)(*full)

            primals = tuple(args[i] for i in wrt)
            return jax.jvp(g, primals, tuple(dirs))[1]

        return jax.jit(hvp)
    raise ValueError(kind)


def as_tuple(g):
    return tuple(g) if isinstance(g, (tuple, list)) else (g,)


def rel_err(a, b):
    import numpy as np

    a = np.concatenate([np.ravel(np.asarray(t)) for t in as_tuple(a)])
    b = np.concatenate([np.ravel(np.asarray(t)) for t in as_tuple(b)])
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def central_fd(fun, args, wrt):
    """Central differences of fun (scalar- or vector-valued, numpy out) w.r.t. args[i], i in wrt:
    h = ε^⅓·max(1, |xᵢ|), as common::central_fd. Scalar fun: one array per variable, shaped like
    it; vector fun: the Jacobian (outputs × inputs) of the single variable."""
    import numpy as np

    outs = []
    for i in wrt:
        x0 = np.array(args[i], dtype=np.float64)
        flat = x0.ravel()
        cols = []
        for k in range(flat.size):
            h = 6.0555e-6 * max(1.0, abs(flat[k]))
            xp, xm = flat.copy(), flat.copy()
            xp[k] += h
            xm[k] -= h
            ap, am = list(args), list(args)
            ap[i], am[i] = xp.reshape(x0.shape), xm.reshape(x0.shape)
            cols.append((np.asarray(fun(*ap)) - np.asarray(fun(*am))) / (xp[k] - xm[k]))
        c = np.array(cols)
        outs.append(c.reshape(x0.shape) if c.ndim == 1 else c.T)
    return tuple(outs)


EXACT, FD = 1e-8, 1e-6


def check(row, kind, log):
    """Closed form at full size (first order and the HVP/Hessian of least squares and logistic)
    and central differences at a small size. Raises on a mismatch."""
    import jax
    import numpy as np

    name = base_name(row)
    res = {}
    for small in (False, True):
        r = np.random.default_rng(1000 + SEED[name])
        obj = build(row.split("@")[0], r, small)
        args = obj["args"]
        wrt = obj["wrt"]
        if kind in ("grad", "jacfwd", "jacrev"):
            got = transform(obj, kind)(*args)
            if not small:
                res["closed"] = e = rel_err(got, obj["closed"](*args))
                if e > EXACT:
                    raise SystemExit(f"CHECK FAILED {row}: {kind} vs closed form: {e:.3e}")
            else:
                fd = central_fd(obj["f"], args, wrt)
                res["fd"] = e = rel_err(got, fd if len(fd) > 1 else fd[0])
                if e > FD:
                    raise SystemExit(f"CHECK FAILED {row}: {kind} vs central differences: {e:.3e}")
        elif kind == "hvp":
            dirs = tuple(_u(r, np.shape(args[i])) for i in wrt)
            got = transform(obj, kind)(*args, *dirs)
            # Central difference of the (closed-form) gradient along the direction.
            h = 1e-5
            ap, am = list(args), list(args)
            for i, dv in zip(wrt, dirs):
                ap[i] = args[i] + h * dv
                am[i] = args[i] - h * dv
            gp, gm = as_tuple(obj["closed"](*ap)), as_tuple(obj["closed"](*am))
            ref = tuple((a - b) / (2 * h) for a, b in zip(gp, gm))
            e = rel_err(got, ref if len(ref) > 1 else ref[0])
            res["fd" if small else "grad_fd"] = e
            if e > FD:
                raise SystemExit(f"CHECK FAILED {row}: hvp vs difference of the gradient: {e:.3e}")
            if not small and name in ("least_squares", "logistic"):
                x, w = args[0], args[1]
                hess = 2 * x.T @ x if name == "least_squares" else x.T @ ((lambda s: s * (1 - s))(_sig(x @ w))[:, None] * x)
                res["closed"] = e = rel_err(got, hess @ dirs[0])
                if e > EXACT:
                    raise SystemExit(f"CHECK FAILED {row}: hvp vs closed form: {e:.3e}")
        elif kind == "hessian":
            got = transform(obj, kind)(*args)
            x, w = args[0], args[1]
            hess = 2 * x.T @ x if name == "least_squares" else x.T @ ((lambda s: s * (1 - s))(_sig(x @ w))[:, None] * x)
            res["closed_small" if small else "closed"] = e = rel_err(got, hess)
            if e > EXACT:
                raise SystemExit(f"CHECK FAILED {row}: hessian vs closed form: {e:.3e}")
    log(f"check {row} ({kind}): " + ", ".join(f"{k} {v:.1e}" for k, v in res.items()))
    return res


# ------------------------------------------------------------------------------------------------
# Timing
# ------------------------------------------------------------------------------------------------


def measure(fn, args, batches=51, batch_s=2e-3, warmup_s=0.3):
    import jax
    import numpy as np

    jax.block_until_ready(fn(*args))  # compile
    t_end = time.perf_counter() + warmup_s
    calls = 0
    while time.perf_counter() < t_end or calls < 3:
        jax.block_until_ready(fn(*args))
        calls += 1
    c0 = time.process_time()
    for _ in range(3):
        jax.block_until_ready(fn(*args))
    per = max((time.process_time() - c0) / 3, 1e-7)
    k = int(min(max(batch_s / per, 1), 10_000))
    cpu, wall = [], []
    for _ in range(batches):
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(k):
            jax.block_until_ready(fn(*args))
        cpu.append((time.process_time() - c0) / k)
        wall.append((time.perf_counter() - w0) / k)
    cpu, wall = np.array(cpu) * 1e9, np.array(wall) * 1e9
    return dict(cpu_ns=float(np.median(cpu)), cpu_q1=float(np.percentile(cpu, 25)),
                cpu_q3=float(np.percentile(cpu, 75)), wall_ns=float(np.median(wall)),
                calls_per_batch=k, batches=batches)


def loadavg():
    try:
        return open("/proc/loadavg").read().split()[:3]
    except OSError:
        return None


def cmd_time(opts):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jaxlib
    import numpy as np

    def log(s):
        print(s, file=sys.stderr, flush=True)

    assert jnp.zeros(1).dtype == jnp.float64
    rows = select(opts.objectives)
    meta = dict(
        jax=jax.__version__, jaxlib=jaxlib.__version__, numpy=np.__version__,
        python=platform.python_version(), devices=[str(d) for d in jax.devices()],
        xla_flags=os.environ.get("XLA_FLAGS", ""),
        env={k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "JAX_PLATFORMS") if k in os.environ},
        affinity=sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        load_start=loadavg(), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    )
    log(f"jax {meta['jax']}, jaxlib {meta['jaxlib']}, {meta['devices']}, XLA_FLAGS={meta['xla_flags']!r}, "
        f"CPUs {meta['affinity']}, load {meta['load_start']}")
    results = {}
    # Checks first, all of them: nothing is timed unless every selected derivative is right.
    checks = {row: check(row, ROW[row][2], log) for row in rows}
    floor_fn = jax.jit(lambda v: v + 1.0)
    results["dispatch_floor"] = measure(floor_fn, (jnp.zeros(3),), batches=opts.batches)
    log(f"dispatch floor: {results['dispatch_floor']['cpu_ns'] / 1e3:.1f} µs CPU")
    # Build and compile everything once; then `rounds` rounds over the rows in rotating order, so
    # that a burst of load on the machine hits every row about equally. Each round gives one median
    # per row (and per row's `value`, the function alone); the report is the median over rounds.
    cases, compile_s = [], {}
    for row in rows:
        kind = ROW[row][2]
        r = np.random.default_rng(SEED[base_name(row)])
        obj = build(row.split("@")[0], r)
        args = tuple(jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in obj["args"])
        fns = [("d", transform(obj, kind), args)]
        if kind == "hvp":
            dirs = tuple(jnp.asarray(_u(r, np.shape(obj["args"][i]))) for i in obj["wrt"])
            fns = [("d", transform(obj, kind), args + dirs)]
        if kind not in ("hvp", "hessian"):
            fns.append(("value", jax.jit(obj["f"]), args))
        t0 = time.perf_counter()
        jax.block_until_ready(fns[0][1](*fns[0][2]))  # tracing and XLA compilation of the derivative
        compile_s[row] = time.perf_counter() - t0
        for _, fn, a in fns[1:]:
            jax.block_until_ready(fn(*a))
        cases.append((row, kind, obj["size"], fns))
    runs = {(row, which): [] for row, _, _, fns in cases for which, _, _ in fns}
    for rnd in range(opts.rounds):
        for i in range(len(cases)):
            row, kind, size, fns = cases[(i + rnd) % len(cases)]
            for which, fn, a in fns:
                m = measure(fn, a, batches=opts.batches)
                runs[(row, which)].append(m)
                if which == "d":
                    log(f"round {rnd + 1}: {row:28} {kind:8} {size:24} {m['cpu_ns'] / 1e3:10.1f} µs CPU "
                        f"[{m['cpu_q1'] / 1e3:.1f}–{m['cpu_q3'] / 1e3:.1f}], wall {m['wall_ns'] / 1e3:.1f} µs, "
                        f"k={m['calls_per_batch']}, load {' '.join(loadavg() or [])}")
    for row, kind, size, fns in cases:
        d = runs[(row, "d")]
        cpu = [m["cpu_ns"] for m in d]
        m = dict(kind=kind, size=size, check=checks[row], cpu_ns=float(np.median(cpu)),
                 cpu_min=min(cpu), cpu_max=max(cpu), cpu_rounds=cpu,
                 wall_ns=float(np.median([m["wall_ns"] for m in d])),
                 calls_per_batch=d[0]["calls_per_batch"], batches=opts.batches, rounds=opts.rounds,
                 compile_s=compile_s[row], date=meta["date"], load_start=meta["load_start"])
        if (row, "value") in runs:
            m["value_ns"] = float(np.median([v["cpu_ns"] for v in runs[(row, "value")]]))
        results[row] = m
        value = f", value {m['value_ns'] / 1e3:.1f} µs" if "value_ns" in m else ""
        log(f"{row:28} {kind:8} {size:24} {m['cpu_ns'] / 1e3:10.1f} µs CPU "
            f"(rounds {min(cpu) / 1e3:.1f}–{max(cpu) / 1e3:.1f}){value}")
    meta["load_end"] = loadavg()
    out = dict(meta=meta, results=results)
    if opts.out:
        prev = {}
        if opts.merge and os.path.exists(opts.out):
            prev = json.load(open(opts.out)).get("results", {})
        prev.update(results)
        out["results"] = prev
        os.makedirs(os.path.dirname(os.path.abspath(opts.out)), exist_ok=True)
        json.dump(out, open(opts.out, "w"), indent=1)
        log(f"wrote {opts.out}")


# ------------------------------------------------------------------------------------------------
# Table
# ------------------------------------------------------------------------------------------------


def fmt(ns):
    if ns is None:
        return "–"
    us = ns / 1e3
    if us >= 1000:
        return f"{us / 1e3:.3g} ms"
    return f"{us:.3g} µs"


def ratio(a, b):
    if a is None or b is None:
        return "–"
    x = a / b
    return f"{x:.2f}" if x >= 0.1 else f"{x:.2g}"


def criterion_ns(crit, group, bench, stat):
    p = os.path.join(crit, group, bench, "new", "estimates.json")
    try:
        return json.load(open(p))[stat]["point_estimate"]
    except (OSError, KeyError):
        return None


def paired_ratios(logs):
    """generated/hand-written paired medians from the cargo bench logs, if present."""
    import re

    out = {}
    for fn in ("cargo-gradients.log", "cargo-jacobians.log", "cargo-second.log"):
        p = os.path.join(logs, fn)
        if not os.path.exists(p):
            continue
        for line in open(p, errors="replace"):
            m = re.match(r"paired ratio: (\w+): generated(?:_grad|_jacobian)?/hand_written = ([\d.]+) \[([\d.]+), ([\d.]+)\]", line)
            if m:
                out[m.group(1)] = (float(m.group(2)), float(m.group(3)), float(m.group(4)))
    return out


def cmd_table(opts):
    data = json.load(open(opts.jax))
    meta, res = data["meta"], data["results"]
    rows = [r for r in select(opts.objectives) if r in res]
    paired = paired_ratios(opts.logs) if opts.logs else {}
    print(f"JAX {meta['jax']} (jaxlib {meta['jaxlib']}), {meta['date']}, XLA_FLAGS={meta['xla_flags']!r}, "
          f"CPUs {meta['affinity']}, load {' '.join(meta['load_start'] or [])} → {' '.join(meta.get('load_end') or [])}")
    dates = sorted({res[r].get("date", meta["date"]) for r in rows})
    if len(dates) > 1:
        print(f"rows from several runs (--merge): {', '.join(dates)}; the line above describes the last")
    print(f"times per call: criterion {opts.stat} (thread CPU time) for Rust, median of batches "
          f"(process CPU time) for JAX; JAX dispatch floor {fmt(res['dispatch_floor']['cpu_ns'])}")
    print()
    print("| objective | size | JAX transform | matgrad | hand-written | JAX [min–max of rounds] | matgrad/JAX | hand/JAX | matgrad/hand (paired) | value: Rust / JAX |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        group = ROW[row][1]
        desc = ROW[row][3]
        m = res[row]
        jx = m["cpu_ns"]
        if group is not None:
            ids = RUST_IDS.get(BENCH_FILE.get(group, "gradients"), ("generated_grad", "hand_written"))
            gen = criterion_ns(opts.criterion, group, ids[0], opts.stat)
            hand = criterion_ns(opts.criterion, group, ids[1], opts.stat)
            rval = criterion_ns(opts.criterion, group, "value", opts.stat)
        else:
            gen = hand = rval = None
        jval = m.get("value_ns")
        vs = f"{fmt(rval)} / {fmt(jval)} ({ratio(rval, jval)})" if jval is not None else "–"
        spread = f" [{fmt(m['cpu_min'])}–{fmt(m['cpu_max'])}]" if m.get("rounds", 1) > 1 else ""
        p = paired.get(group) if "~" not in row else None
        ps = f"{p[0]:.2f} [{p[1]:.2f}–{p[2]:.2f}]" if p else "–"
        label = f"{group or base_name(row)}: {desc.strip()}" if not desc.startswith("  ") else desc.strip()
        print(f"| {label} | {m['size']} | `{m['kind']}` | {fmt(gen)} | {fmt(hand)} | {fmt(jx)}{spread} | "
              f"{ratio(gen, jx)} | {ratio(hand, jx)} | {ps} | {vs} |")
    comp = [f"{row} {res[row]['compile_s']:.2f} s" for row in rows if "compile_s" in res[row]]
    if comp:
        print()
        print("JAX first call (trace + XLA compile, wall): " + ", ".join(comp))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("time", help="check and time the JAX derivatives")
    t.add_argument("objectives", nargs="*")
    t.add_argument("--out", default=None)
    t.add_argument("--merge", action="store_true", help="keep other rows already in --out")
    t.add_argument("--batches", type=int, default=51, help="timed batches of about 2 ms per row and round")
    t.add_argument("--rounds", type=int, default=3, help="rounds over all rows, in rotating order")
    c = sub.add_parser("table", help="print the comparison table")
    c.add_argument("objectives", nargs="*")
    c.add_argument("--jax", required=True)
    c.add_argument("--criterion", default="target/criterion")
    c.add_argument("--logs", default=None)
    c.add_argument("--stat", default="median", choices=("median", "mean"))
    opts = ap.parse_args()
    (cmd_time if opts.cmd == "time" else cmd_table)(opts)


if __name__ == "__main__":
    main()
