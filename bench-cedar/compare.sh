#!/bin/bash
# In-process, same run: pam-iam and cedar-policy on the same scenarios, batch by batch
# in turn (see src/main.rs).
#   bench-cedar/compare.sh [WARMUP_S] [MEASURE_S]     (default 1 and 3)
set -euo pipefail
cd "$(dirname "$0")"
cargo build --locked --release -q -p bench-cedar
exec ../target/release/bench-cedar compare "${1:-1}" "${2:-3}"
