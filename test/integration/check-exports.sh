#!/usr/bin/env bash
# The plugin exports its net tables ncclNetPlugin_v7 and _v8 ... _v12 and
# nothing else: everything else is built with -fvisibility=hidden, so NCCL's
# probes for other symbols (v6, CollNet, tuner, profiler, GIN) find nothing
# of ours and NCCL takes the newest table it knows.
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
want=$(printf 'ncclNetPlugin_v%s\n' 7 8 9 10 11 12 | sort)
if [ "$syms" != "$want" ]; then
	echo "expected exactly:" $want
	exit 1
fi
# NCCL's naming rule: NCCL_NET_PLUGIN=spark → libnccl-net-spark.so
[ "$(basename "$so")" = "libnccl-net-spark.so" ]
