#!/usr/bin/env bash
# The plugin on two emulated Sparks: both rails vs one, NCCL-shaped traffic,
# round-trip latency, per-rail shares from port counters, adaptive weights
# against a degraded rail (test/bench/spark_bench.c).
set -euo pipefail
BUILD=${BUILD:-build}
exec "$BUILD/test/bench/spark_bench"
