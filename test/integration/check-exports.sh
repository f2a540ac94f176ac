#!/usr/bin/env bash
# The plugin exports ncclNetPlugin_v8 and nothing else: everything else is
# built with -fvisibility=hidden, so NCCL's probes for other symbols
# (v9..v12 tables, tuner, profiler) find nothing of ours.
set -euo pipefail
so=${BUILD:-build}/libnccl-net-spark.so
syms=$(nm -D --defined-only "$so" | awk '{print $3}' | sort)
echo "exported: $syms"
[ "$syms" = "ncclNetPlugin_v8" ]
# NCCL's naming rule: NCCL_NET_PLUGIN=spark → libnccl-net-spark.so
[ "$(basename "$so")" = "libnccl-net-spark.so" ]
