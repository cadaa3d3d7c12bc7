#!/usr/bin/env bash
# matgrad vs hand-written nalgebra vs JAX, per objective, in one run (see benches/jax/README.md).
#
#   bash benches/jax/run.sh [--skip-rust] [--skip-jax] [--full-criterion] [OBJECTIVE ...]
#
# 1. a virtual environment in target/jax-venv with jax[cpu]==$JAX_VERSION (made once, reused);
# 2. the JAX derivatives checked (closed form, central differences), then timed:
#    target/jax-compare/jax.json;
# 3. cargo bench -p matgrad-benches --bench gradients / jacobians / second, the generated,
#    hand-written and value columns only (a criterion filter; every group's startup checks and
#    paired ratios still run): target/criterion/, logs in target/jax-compare/cargo-*.log;
# 4. the table, from target/jax-compare/jax.json and target/criterion/.
#
# Everything runs single-threaded on one CPU: XLA_FLAGS below, and taskset -c $CPU (default 0)
# for both the Python process and cargo's. float64 (jax_enable_x64), CPU only (jax[cpu]).
#
#   --skip-rust        reuse target/criterion/ (and the logs) from an earlier run
#   --skip-jax         reuse target/jax-compare/jax.json
#   --full-criterion   run every criterion benchmark of the two files (value, value_and_grad,
#                      num-dual, finite differences too: about 6 minutes more)
#   OBJECTIVE          least_squares ridge logistic trace_quadratic factorization gaussian_nll
#                      bilinear_inverse trace_sixth_power tanh_layer exp_decay_jacobian
#                      tanh_layer_jacobian log_det (default: all); JAX variants and second-order
#                      rows of an objective come with it (log_det has only its HVP row)
# Environment: JAX_VERSION (0.10.2), JAX_VENV (target/jax-venv), CPU (0), CARGO_TARGET_DIR
# (target; its criterion/ and jax-compare/ are used), BATCHES (51 timed batches of ~2 ms per JAX row),
# ROUNDS (3 rounds over the JAX rows, in rotating order; the table shows their median and range).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

skip_rust=0 skip_jax=0 full=0 objectives=()
for a in "$@"; do
    case "$a" in
        --skip-rust) skip_rust=1 ;;
        --skip-jax) skip_jax=1 ;;
        --full-criterion) full=1 ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        -*) echo "unknown option $a" >&2; exit 2 ;;
        *) objectives+=("$a") ;;
    esac
done

JAX_VERSION=${JAX_VERSION:-0.10.2}
CPU=${CPU:-0}
BATCHES=${BATCHES:-51}
ROUNDS=${ROUNDS:-3}
venv=${JAX_VENV:-$root/target/jax-venv}
# cargo's target directory (CARGO_TARGET_DIR, e.g. for a RUSTFLAGS="-C target-cpu=native" build of
# its own) holds criterion's results and this script's logs and JAX results.
tdir=$(cd "$root" && realpath -m "${CARGO_TARGET_DIR:-target}")
# Absolute: criterion resolves a relative CARGO_TARGET_DIR from the bench's working directory
# (benches/), cargo from the workspace root.
[ -n "${CARGO_TARGET_DIR:-}" ] && export CARGO_TARGET_DIR=$tdir
out=$tdir/jax-compare
mkdir -p "$out"

export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
export JAX_PLATFORMS=cpu
# jaxlib's LAPACK kernels (inverse, LU, solves) run in scipy's OpenBLAS: one thread too.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
pin=()
if command -v taskset >/dev/null; then pin=(taskset -c "$CPU"); else echo "taskset not found: not pinned" >&2; fi

echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load: $(cut -d' ' -f1-3 /proc/loadavg), pinned: ${pin[*]:-no}"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import jax, sys; sys.exit(jax.__version__ != '$JAX_VERSION')" 2>/dev/null; then
    "$venv/bin/pip" install --quiet "jax[cpu]==$JAX_VERSION"
fi
py=$venv/bin/python

if [ "$skip_jax" = 0 ]; then
    echo "== JAX: checks, then timings"
    merge=()
    [ ${#objectives[@]} -gt 0 ] && merge=(--merge)
    "${pin[@]}" "$py" "$here/compare.py" time --out "$out/jax.json" --batches "$BATCHES" --rounds "$ROUNDS" "${merge[@]}" "${objectives[@]}"
fi

if [ "$skip_rust" = 0 ]; then
    # Which bench files and criterion groups the objectives need.
    grad_groups=() jac_groups=() second_groups=()
    all_grad=(least_squares ridge logistic trace_quadratic factorization gaussian_nll bilinear_inverse trace_sixth_power tanh_layer)
    all_jac=(exp_decay_jacobian tanh_layer_jacobian)
    # benches/second.rs: the Hessian-vector products and Hessians of two objectives (one
    # criterion group per derivative, run together).
    all_second=(least_squares_hvp logistic_hvp least_squares_hessian logistic_hessian trace_quadratic_hvp log_det_hvp)
    if [ ${#objectives[@]} -eq 0 ]; then
        grad_groups=("${all_grad[@]}") jac_groups=("${all_jac[@]}") second_groups=("${all_second[@]}")
    else
        for o in "${objectives[@]}"; do
            case " ${all_jac[*]} " in
                *" $o "*) jac_groups+=("$o") ;;
                *) [ "$o" != log_det ] && grad_groups+=("$o") ;; # ln det X: an HVP row only
            esac
            case "$o" in
                least_squares|logistic) second_groups+=("${o}_hvp" "${o}_hessian") ;;
                trace_quadratic|log_det) second_groups+=("${o}_hvp") ;;
            esac
        done
    fi
    run_bench() { # file, id regex, groups...
        local file=$1 ids=$2; shift 2
        local groups; groups=$(IFS='|'; echo "$*")
        local filter="^($groups)/($ids)\$"
        [ "$full" = 1 ] && filter="^($groups)/"
        echo "== cargo bench --bench $file -- '$filter' (load: $(cut -d' ' -f1-3 /proc/loadavg))"
        "${pin[@]}" cargo bench -p matgrad-benches --bench "$file" -- "$filter" 2>&1 | tee "$out/cargo-$file.log"
    }
    [ ${#grad_groups[@]} -gt 0 ] && run_bench gradients 'generated_grad|hand_written|value' "${grad_groups[@]}"
    [ ${#jac_groups[@]} -gt 0 ] && run_bench jacobians 'generated_jacobian|hand_written|value' "${jac_groups[@]}"
    [ ${#second_groups[@]} -gt 0 ] && run_bench second 'generated|hand_written' "${second_groups[@]}"
fi

echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" "$here/compare.py" table --jax "$out/jax.json" --criterion "$tdir/criterion" --logs "$out" "${objectives[@]}" | tee "$out/table.md"
