#!/usr/bin/env bash
# Runs the Criterion test executables, then the scripted checks, and prints one
# closing line "tests: N passed, N failed, N skipped" over all of them.
#
#   run-tests.sh BIN... -- SCRIPT...
#
# Each binary's own Criterion synthesis line is kept in the output. A binary
# that dies without a synthesis line counts as one failure. A script that
# exits 77 (automake's convention) could not run here, e.g. no GPU: it counts
# as skipped, never as passed, and its last line says why.
set -uo pipefail

bins=(); scripts=(); seen_sep=0
for a in "$@"; do
	if [ "$a" = "--" ]; then seen_sep=1; continue; fi
	if [ $seen_sep -eq 0 ]; then bins+=("$a"); else scripts+=("$a"); fi
done

passed=0; failed=0; skipped=0; failed_names=(); skipped_names=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for b in "${bins[@]}"; do
	echo "=== $b"
	"$b" --jobs="${TEST_JOBS:-2}" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -a 'Synthesis: Tested:' "$log" | tail -n1)
	if [ -z "$line" ]; then
		failed=$((failed + 1)); failed_names+=("$b (no synthesis, rc=$rc)")
		continue
	fi
	t=$(sed -E 's/.*Tested: ([0-9]+).*/\1/' <<<"$line")
	p=$(sed -E 's/.*Passing: ([0-9]+).*/\1/' <<<"$line")
	passed=$((passed + p)); failed=$((failed + t - p))
	if [ "$rc" -ne 0 ] || [ "$p" -ne "$t" ]; then failed_names+=("$b"); fi
	if [ "$rc" -ne 0 ] && [ "$p" -eq "$t" ]; then failed=$((failed + 1)); fi
done

for s in "${scripts[@]}"; do
	echo "=== $s"
	"$s"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1)); echo "[PASS] $s"
	elif [ "$rc" -eq 77 ]; then
		skipped=$((skipped + 1)); skipped_names+=("$s"); echo "[SKIP] $s"
	else
		failed=$((failed + 1)); failed_names+=("$s"); echo "[FAIL] $s"
	fi
done

if [ ${#failed_names[@]} -gt 0 ]; then
	printf 'failed: %s\n' "${failed_names[@]}"
fi
if [ ${#skipped_names[@]} -gt 0 ]; then
	printf 'skipped: %s\n' "${skipped_names[@]}"
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ $((passed + failed)) -gt 0 ]
