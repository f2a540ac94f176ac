#!/usr/bin/env bash
# make test's view of nccl_check: runs it over softroce when it was built and
# a GPU is present; otherwise says why and exits 77 (skipped, never passed).
# The full GPU run (all sizes, the stock baselines) is scripts/gpu-check.sh.
set -uo pipefail
build=${BUILD:-build}
bin=$build/test/nccl/nccl_check
if [ ! -x "$bin" ]; then
	echo "SKIP nccl_check: $(cat "$build/test/nccl/SKIP" 2>/dev/null || echo "not built")"
	exit 77
fi
# Options are validated before anything else (no GPU needed for that).
if "$bin" --net Foo >/dev/null 2>&1 || "$bin" -e 65M >/dev/null 2>&1 || "$bin" -f x >/dev/null 2>&1; then
	echo "nccl_check accepted a bad option"; exit 1
fi
# Rehearse the skip path for real: the binary itself must find no GPU here
# and say so with 77, or pass on a machine that has one.
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT
timeout 300 "$bin" -e 1M --logdir "$logdir/run" --timeout 240
rc=$?
case $rc in
0) echo "nccl_check passed (small sizes; scripts/gpu-check.sh runs them all)"; exit 0 ;;
77) exit 77 ;;
*) echo "nccl_check failed (rc=$rc); NCCL logs:"; tail -n 40 "$logdir"/run/nccl.*.log 2>/dev/null
   exit 1 ;;
esac
