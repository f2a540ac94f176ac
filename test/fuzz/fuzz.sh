#!/usr/bin/env bash
# libFuzzer runs of the harnesses built in $FUZZ_BUILD (test/fuzz/module.mk).
#
#   fuzz.sh probe          exit 77 with the reason when clang cannot build a
#                          libFuzzer binary here (clang or its runtime missing)
#   fuzz.sh run NAME...    each harness for $FUZZ_SECONDS s, starting from its
#                          kept corpus; new inputs go to a scratch directory
#   fuzz.sh corpus NAME... the same, then new finds are merged (-merge=1) into
#                          the kept corpus, test/fuzz/corpus/NAME/
#
# One line per harness with the inputs it executed, then a total. A crash or
# a violated property fails the run; the input is kept under
# $FUZZ_BUILD/artifacts/NAME/ and the line says how to replay it.
set -uo pipefail
cc=${FUZZ_CC:-clang}
build=${FUZZ_BUILD:-build-fuzz}
secs=${FUZZ_SECONDS:-30}
here=$(cd "$(dirname "$0")" && pwd)
here=${here#"$PWD"/}   # relative in the messages when run from the top (make)
mode=${1:?usage: fuzz.sh probe|run|corpus NAME...}; shift

probe() {
	if ! command -v "$cc" >/dev/null; then
		echo "fuzz: skipped: no $cc (libFuzzer needs clang: scripts/install-deps.sh --clang)"
		return 77
	fi
	local tmp rc=0
	tmp=$(mktemp -d)
	printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n%s\n' \
		'{ (void)d; (void)n; return 0; }' >"$tmp/p.c"
	if ! "$cc" -fsanitize=fuzzer,address,undefined -o "$tmp/p" "$tmp/p.c" >"$tmp/log" 2>&1; then
		echo "fuzz: skipped: $cc cannot link a libFuzzer binary: $(grep -m1 -iE 'error|cannot' "$tmp/log")"
		echo "  the runtime (libclang_rt.fuzzer-*.a) comes with Debian's libclang-rt-dev: scripts/install-deps.sh --clang"
		rc=77
	fi
	rm -rf "$tmp"
	return $rc
}

# fuzz_one NAME: prints its line; returns 1 on a finding.
fuzz_one() {
	local name=$1 bin=$build/fuzz_$1 kept=$here/corpus/$1
	local work=$build/work/$1 art=$build/artifacts/$1 log=$build/logs/$1.log
	rm -rf "$work" "$art" && mkdir -p "$work" "$art" "$kept" "$(dirname "$log")"
	"$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
		-max_len=1024 -error_exitcode=1 -artifact_prefix="$art/" "$work" "$kept" >"$log" 2>&1
	local rc=$?
	local execs new
	execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n1)
	new=$(sed -nE 's/^stat::new_units_added: *([0-9]+).*/\1/p' "$log" | tail -n1)
	if [ $rc -ne 0 ]; then
		printf '  FAIL  fuzz_%-12s %12s inputs, then a finding (log: %s)\n' "$name" "${execs:-?}" "$log"
		grep -aE 'property violated|ERROR: |SUMMARY: |runtime error: ' "$log" | head -n 5 | sed 's/^/        | /'
		local a
		for a in "$art"/*; do
			[ -e "$a" ] || continue
			echo "        input: $a (replay: $bin $a; once fixed, add it: cp $a $kept/)"
		done
		return 1
	fi
	printf '  pass  fuzz_%-12s %12s inputs in %ss, %s new (%s kept)\n' "$name" "$execs" "$secs" \
		"${new:-0}" "$(find "$kept" -type f | wc -l)"
	if [ "$mode" = corpus ]; then
		local before after
		before=$(find "$kept" -type f | wc -l)
		"$bin" -merge=1 -max_len=1024 "$kept" "$work" >>"$log" 2>&1 ||
			{ echo "        merge failed (log: $log)"; return 1; }
		after=$(find "$kept" -type f | wc -l)
		echo "        merged $((after - before)) new inputs into $kept/ ($after kept)"
	fi
	return 0
}

case "$mode" in
probe) probe; exit $? ;;
run|corpus) ;;
*) echo "fuzz.sh: unknown mode $mode" >&2; exit 2 ;;
esac
failed=0; total=0
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
[ "$jobs" -le $# ] || jobs=$#
mkdir -p "$build/logs"
echo "fuzzing: $# harnesses, ${secs}s each, $jobs at a time ($cc, ASan+UBSan; logs in $build/logs/)"
# Each harness is one process: FUZZ_JOBS of them at once (default: one per
# core), their lines printed in order once all are done.
running=0
for n in "$@"; do
	if [ $running -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
	{ fuzz_one "$n" >"$build/logs/$n.line" 2>&1; echo $? >"$build/logs/$n.rc"; } &
	running=$((running + 1))
done
wait
for n in "$@"; do
	cat "$build/logs/$n.line"
	[ "$(cat "$build/logs/$n.rc")" = 0 ] || failed=$((failed + 1))
	e=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$build/logs/$n.log" | tail -n1)
	total=$((total + ${e:-0}))
done
echo "fuzz: $total inputs executed over $# harnesses, $failed with findings"
[ $failed -eq 0 ]
