#!/usr/bin/env bash
# A check that exits 77 is counted as skipped by scripts/run-tests.sh, never
# as passed, and a run of only skips does not pass.
set -uo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '#!/bin/sh\necho "SKIP demo: no GPU"\nexit 77\n' > "$dir/skip.sh"
printf '#!/bin/sh\nexit 0\n' > "$dir/pass.sh"
chmod +x "$dir/skip.sh" "$dir/pass.sh"
out=$(BUILD="$dir" scripts/run-tests.sh -- "$dir/skip.sh" "$dir/pass.sh") || { echo "$out"; exit 1; }
grep -qE '^  skip  .*skip.sh +SKIP demo: no GPU$' <<<"$out" || { echo "no skip line:"; echo "$out"; exit 1; }
[ "$(tail -n1 <<<"$out")" = "tests: 1 passed, 0 failed, 1 skipped" ] || { echo "$out"; exit 1; }
if out=$(BUILD="$dir" scripts/run-tests.sh -- "$dir/skip.sh"); then
	echo "a run of skips alone passed:"; echo "$out"; exit 1
fi
[ "$(tail -n1 <<<"$out")" = "tests: 0 passed, 0 failed, 1 skipped" ] || { echo "$out"; exit 1; }
echo "skips are counted as skips"
