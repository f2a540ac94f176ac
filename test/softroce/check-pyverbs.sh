#!/usr/bin/env bash
# softroce: Debian's python3-pyverbs, unmodified, on an RC QP pair across
# hosts a and b (pyverbs_rc.py says what it checks).  Debian's interpreter
# runs it: the pyverbs package is built for it, not for another python3 that
# may come first on PATH.
set -euo pipefail
BUILD=${BUILD:-build}
fab=$(mktemp -d)
trap 'rm -rf "$fab"' EXIT
export SOFTROCE_FABRIC=$fab SOFTROCE_HOST=a LD_LIBRARY_PATH=$BUILD/softroce
# An uninstrumented interpreter against a sanitized softroce needs the
# runtime first (scripts/san-run.sh exports it); the interpreter's own
# allocations are not ours to leak-check.
if [ -n "${SAN_RUNTIME:-}" ]; then
	export LD_PRELOAD=$SAN_RUNTIME${LD_PRELOAD:+:$LD_PRELOAD}
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
timeout 120 /usr/bin/python3 "$(dirname "$0")/pyverbs_rc.py"
echo "check-pyverbs: ok"
