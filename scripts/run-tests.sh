#!/usr/bin/env bash
# Runs the Criterion test executables, then the scripted checks, and prints one
# closing line "tests: N passed, N failed" over all of them.
#
#   run-tests.sh BIN... -- SCRIPT...
#
# Each binary's own Criterion synthesis line is kept in the output. A binary
# that dies without a synthesis line counts as one failure.
set -uo pipefail

bins=(); scripts=(); seen_sep=0
for a in "$@"; do
	if [ "$a" = "--" ]; then seen_sep=1; continue; fi
	if [ $seen_sep -eq 0 ]; then bins+=("$a"); else scripts+=("$a"); fi
done

passed=0; failed=0; failed_names=()
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
	if "$s"; then
		passed=$((passed + 1)); echo "[PASS] $s"
	else
		failed=$((failed + 1)); failed_names+=("$s"); echo "[FAIL] $s"
	fi
done

if [ ${#failed_names[@]} -gt 0 ]; then
	printf 'failed: %s\n' "${failed_names[@]}"
fi
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ $((passed + failed)) -gt 0 ]
