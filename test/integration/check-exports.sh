#!/usr/bin/env bash
# The plugin exports ncclNetPlugin_v8 and nothing else: everything else is
# built with -fvisibility=hidden, so NCCL's probes for other symbols
# (v9..v12 tables, tuner, profiler) find nothing of ours.
#
# Sanitizer builds (SAN=asan, SAN=tsan) export instrumentation symbols of
# their own, e.g. __odr_asan.ncclNetPlugin_v8 (ASan's one-definition-rule
# marker for an exported global). Names with the sanitizer prefixes below are
# set aside, and only those: any other extra export still fails.
set -euo pipefail
so=${BUILD:-build}/libnccl-net-spark.so
san_prefixes='^(__odr_asan\.|__asan|__ubsan|__tsan)'
all=$(nm -D --defined-only "$so" | awk '{print $3}' | sort)
syms=$(grep -Ev "$san_prefixes" <<<"$all" || true)
san=$(grep -E "$san_prefixes" <<<"$all" || true)
echo "exported: $syms"
[ -z "$san" ] || echo "sanitizer instrumentation, not counted:" $san
[ "$syms" = "ncclNetPlugin_v8" ]
# NCCL's naming rule: NCCL_NET_PLUGIN=spark → libnccl-net-spark.so
[ "$(basename "$so")" = "libnccl-net-spark.so" ]
