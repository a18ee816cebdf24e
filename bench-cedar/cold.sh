#!/bin/bash
# Fresh-process cold path, pam-iam vs cedar-policy: read the policy files, parse them,
# decide once, exit. Prints the mean wall time per process over N runs.
#   bench-cedar/cold.sh [N]      (default 50; builds bench-cedar in release first)
set -euo pipefail
cd "$(dirname "$0")"
n=${1:-50}
cargo build --release -q
bin=target/release/bench-cedar
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin" gen "$dir"
run() { # label, args...
  local label=$1; shift
  local out; out=$("$bin" "$@")
  local t0 t1; t0=$(date +%s%N)
  for ((i = 0; i < n; i++)); do "$bin" "$@" >/dev/null; done
  t1=$(date +%s%N)
  printf '%-34s %8.2f ms/process  (%s)\n' "$label" "$(echo "($t1 - $t0) / $n / 1000000" | bc -l)" "$out"
}
run "true (process start, no work)" nothing
run "pam-iam 10 policies x 10 stmts" iam "$dir/iam-100"
run "cedar 100 policies" cedar "$dir/cedar-100.cedar"
run "pam-iam 1,000 policies" iam "$dir/iam-1000"
run "cedar 1,000 policies" cedar "$dir/cedar-1000.cedar"
