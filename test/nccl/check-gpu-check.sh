#!/usr/bin/env bash
# scripts/gpu-check.sh on a machine without a GPU: it must finish quickly,
# write a summary line per step (none hung, none left out) and fail (a GPU
# run that did not happen is never a pass). On a GPU machine this is
# skipped: there gpu-check.sh is the real run (docs/nccl.md).
set -uo pipefail
if timeout 10 nvidia-smi -L >/dev/null 2>&1; then
	echo "SKIP check-gpu-check: a GPU is here; run scripts/gpu-check.sh OUTDIR itself"
	exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if timeout 300 scripts/gpu-check.sh "$out/run" > "$out/stdout" 2>&1; then
	cat "$out/stdout"; echo "gpu-check.sh passed without a GPU"; exit 1
fi
for s in info ours ours-torch one-hca both-hcas force-merge torch compare; do
	n=$(grep -cE "^$s +(PASS|SKIP|TIMEOUT|FAIL)" "$out/run/summary.txt")
	[ "$n" = 1 ] || { cat "$out/stdout"; echo "step $s: $n summary lines"; exit 1; }
done
grep -qE '^ours +(FAIL|SKIP)' "$out/run/summary.txt" || { cat "$out/run/summary.txt"; exit 1; }
grep -qE 'no GPU|not built' "$out/run/ours.log" || { cat "$out/run/ours.log"; echo "no reason given"; exit 1; }
grep -q '^gpu-check: [0-9]* failing step' "$out/run/summary.txt" || exit 1
echo "gpu-check.sh without a GPU: every step accounted for, run failed as it must"
