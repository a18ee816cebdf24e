#!/bin/bash
# Fresh-process cold path, pam-iam vs cedar-policy: read the policy files, parse and
# validate them (Cedar: parse its schema too), decide once, exit. The five commands run
# interleaved, one process each in turn, N rounds; prints median and min per command.
#   bench-cedar/cold.sh [N]      (default 50; builds bench-cedar in release first)
set -euo pipefail
cd "$(dirname "$0")"
n=${1:-50}
cargo build --locked --release -q -p bench-cedar
bin=../target/release/bench-cedar
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin" gen "$dir"
labels=("true (process start, no work)" "pam-iam 10 policies x 10 stmts" "cedar 100 policies"
  "pam-iam 1,000 policies" "cedar 1,000 policies")
cmds=("nothing" "iam $dir/iam-100" "cedar $dir/cedar-100.cedar" "iam $dir/iam-1000"
  "cedar $dir/cedar-1000.cedar")
for k in "${!cmds[@]}"; do
  # shellcheck disable=SC2086
  out[k]=$("$bin" ${cmds[k]})
  : >"$dir/t$k"
done
echo "bench-cedar/cold.sh $n: load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
for ((i = 0; i < n; i++)); do
  for k in "${!cmds[@]}"; do
    t0=$EPOCHREALTIME
    # shellcheck disable=SC2086
    "$bin" ${cmds[k]} >/dev/null
    t1=$EPOCHREALTIME
    echo "$t0 $t1" | awk '{printf "%.3f\n", ($2 - $1) * 1000}' >>"$dir/t$k"
  done
done
for k in "${!cmds[@]}"; do
  sort -n "$dir/t$k" | awk -v label="${labels[k]}" -v out="${out[k]}" \
    '{v[NR] = $1} END {printf "%-34s median %8.2f ms  min %8.2f ms  (%s, n=%d)\n", label, v[int((NR + 1) / 2)], v[1], out, NR}'
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at end"
