#!/usr/bin/env bash
# The plugin on two emulated Sparks (spark-bench --bench, plugin/tools/spark-bench):
# our fused device against NCCL's own IB protocol (raw verbs) on both HCAs and
# on one HCA; 8 B to 64 MiB x 1, 2, 8 in flight x 1, 2 comms; the link and
# cable caps; ping-pong latency; one half degraded to rate 0.25. Writes
# $BUILD/bench/results.csv (every point), summary.json and table.txt.
set -euo pipefail
BUILD=${BUILD:-build}
exec "$BUILD/spark-bench" --emulated --bench --out "$BUILD/bench"
