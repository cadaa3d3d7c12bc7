#!/usr/bin/env bash
# Compile time (issue 5): a crate with 100 #[gradient] functions against the same crate with the
# attribute removed, built against this checkout of matgrad. Dependencies are built once first;
# each measurement rebuilds only the crate (median of 3). Usage: bash benches/compile_time.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="$work/target"

bodies=(
  "(x * w - y).norm_squared()"
  "(x * w - y).norm_squared() + 0.5 * w.norm_squared()"
  "(x * w).map(|v| v.exp().ln_1p()).sum() - y.dot(&(x * w))"
  "(x * w).map(|v| v.tanh()).sum() + w.dot(&w)"
  "((x * w).transpose() * (x * w))[(0, 0)]"
  "(x * w - y).norm() + w.map(|v| v.abs()).sum()"
  "(x * w).component_mul(&y).sum()"
  "(x.transpose() * y).dot(w)"
  "(x * w).map(|v| (v - 1.0).powi(2)).sum() / (y.len() as f64)"
  "(x * w).map(|v| v.max(0.0)).sum() - y.sum()"
)

for variant in with without; do
  mkdir -p "$work/$variant/src"
  cat > "$work/$variant/Cargo.toml" <<EOF
[package]
name = "compile-time-$variant"
version = "0.0.0"
edition = "2021"

[dependencies]
matgrad = { path = "$root" }
EOF
  {
    echo "#![allow(dead_code)]"
    echo "use matgrad::nalgebra::{DMatrix, DVector};"
    for i in $(seq 0 99); do
      body=${bodies[$((i % 10))]}
      if [ "$variant" = with ]; then echo "#[matgrad::gradient(wrt = w)]"; fi
      echo "pub fn f$i(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 { $body }"
    done
  } > "$work/$variant/src/lib.rs"
done

(cd "$work/with" && cargo build -q 2>/dev/null)
(cd "$work/without" && cargo build -q 2>/dev/null)

measure() {
  local dir=$1 times=()
  for _ in 1 2 3; do
    touch "$dir/src/lib.rs"
    local start end
    start=$(date +%s.%N)
    (cd "$dir" && cargo build -q 2>/dev/null)
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc)")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 2p
}

with=$(measure "$work/with")
without=$(measure "$work/without")
echo "100 functions, debug build of the crate alone (median of 3):"
echo "  with #[gradient]:    ${with} s"
echo "  without:             ${without} s"
echo "  ratio:               $(echo "scale=2; $with / $without" | bc)"
