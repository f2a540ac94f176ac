#!/usr/bin/env bash
# The plugin on two emulated Sparks (test/bench/spark_bench.c): our fused
# device against stock NCCL given both HCAs (modelled as two one-rail devices,
# whole messages alternating) and against one rail; 64 MiB, 1 MiB x 8 and
# 128 KiB x 8 throughput, 8-byte round trip, a rail degraded to 1/4 (adaptive
# and equal weights vs stock), per-rail shares from port counters.
set -euo pipefail
BUILD=${BUILD:-build}
exec "$BUILD/test/bench/spark_bench"
