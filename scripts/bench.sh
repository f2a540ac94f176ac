#!/usr/bin/env bash
# `make bench`: the main job. Runs every benchmark registered under test/bench
# on two emulated Sparks and prints their reports. Each benchmark reports
# ratios measured inside one run, because the machines are noisy.
set -euo pipefail
BUILD=${BUILD:-build}
ran=0
for b in scripts/bench.d/*.sh; do
	[ -e "$b" ] || continue
	echo "=== $(basename "$b" .sh)"
	BUILD=$BUILD "$b"
	ran=$((ran + 1))
done
[ $ran -gt 0 ] || { echo "bench: no benchmark registered yet" >&2; exit 1; }
