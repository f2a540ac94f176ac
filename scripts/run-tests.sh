#!/usr/bin/env bash
# Runs the Criterion test executables, then the scripted checks: one line per
# suite or script, then one closing line "tests: N passed, N failed, N skipped"
# over all. A script that exits 77 (automake's convention) could not run here
# (e.g. no GPU): it counts as skipped, never as passed, and its log says why.
#
#   run-tests.sh BIN... -- SCRIPT...
#
# Each one's output goes to $BUILD/test-logs/<name>.log; it is printed in full
# when that suite or script fails, and always with V=1. Sanitizer reports are
# printed whatever the result (scripts/san-run.sh fails the run on them). A
# binary that dies without Criterion's synthesis line counts as one failure.
set -uo pipefail

bins=(); scripts=(); seen_sep=0
for a in "$@"; do
	if [ "$a" = "--" ]; then seen_sep=1; continue; fi
	if [ $seen_sep -eq 0 ]; then bins+=("$a"); else scripts+=("$a"); fi
done

logs="${BUILD:-build}/test-logs"
mkdir -p "$logs"
passed=0; failed=0; skipped=0; failed_names=(); skipped_names=()

# show NAME LOG OK: the result line, then the log if it failed (or V=1).
show() {
	local name=$1 log=$2 ok=$3 what=$4
	if [ "$ok" -eq 1 ]; then printf '  pass  %-42s %s\n' "$name" "$what"
	else printf '  FAIL  %-42s %s (log: %s)\n' "$name" "$what" "$log"; fi
	if [ "$ok" -eq 0 ] || [ "${V:-0}" = 1 ]; then
		sed 's/^/        | /' "$log"
	else
		grep -aE '^SUMMARY: [A-Za-z]+Sanitizer|: runtime error: ' "$log" | sed 's/^/        | /'
	fi
}

for b in "${bins[@]}"; do
	name=${b#"${BUILD:-build}"/}; name=${name#test/}
	log="$logs/$(tr / _ <<<"$name").log"
	"$b" --jobs="${TEST_JOBS:-2}" >"$log" 2>&1
	rc=$?
	line=$(grep -a 'Synthesis: Tested:' "$log" | tail -n1)
	if [ -z "$line" ]; then
		failed=$((failed + 1)); failed_names+=("$b (no synthesis, rc=$rc)")
		show "$name" "$log" 0 "ended (exit $rc) without Criterion's summary"
		continue
	fi
	t=$(sed -E 's/.*Tested: ([0-9]+).*/\1/' <<<"$line")
	p=$(sed -E 's/.*Passing: ([0-9]+).*/\1/' <<<"$line")
	passed=$((passed + p)); failed=$((failed + t - p))
	ok=1
	if [ "$rc" -ne 0 ] || [ "$p" -ne "$t" ]; then failed_names+=("$b"); ok=0; fi
	if [ "$rc" -ne 0 ] && [ "$p" -eq "$t" ]; then failed=$((failed + 1)); fi
	show "$name" "$log" $ok "$p/$t tests$([ "$rc" -eq 0 ] || echo ", exit $rc")"
done

for s in "${scripts[@]}"; do
	log="$logs/$(tr / _ <<<"${s%.sh}").log"
	"$s" >"$log" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1)); show "$s" "$log" 1 "check"
	elif [ "$rc" -eq 77 ]; then
		skipped=$((skipped + 1)); skipped_names+=("$s")
		printf '  skip  %-42s %s\n' "$s" "$(tail -n1 "$log")"
	else
		failed=$((failed + 1)); failed_names+=("$s"); show "$s" "$log" 0 "check"
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
