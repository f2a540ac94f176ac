#!/usr/bin/env bash
# Runs a test command (scripts/run-tests.sh ...) for a sanitizer variant:
# sets the sanitizer runtime options, then fails the run if any sanitizer
# report appears in the output, even one printed after a test had already
# passed (LeakSanitizer reports at process exit, after Criterion has counted
# the test). Used by `make test SAN=asan|tsan` through TEST_WRAPPER.
#
#   SAN=asan|tsan BUILD=build-asan san-run.sh COMMAND...
#
# Each option below says why it is set; docs/building.md has the long form.
set -uo pipefail
: "${SAN:?SAN=asan or SAN=tsan}" "${BUILD:?BUILD dir}"
CC=${CC:-cc}

case "$SAN" in
asan)
	# detect_leaks=1: leaks on close/abort paths are a bug class we test for.
	# verify_asan_link_order=0: test scripts may run an uninstrumented
	#   program (ibv_devinfo, ibv_rc_pingpong, python3) against the sanitized
	#   softroce libibverbs.so.1; the ASan runtime then arrives as a dependency
	#   of that library instead of first, and ASan would refuse to start.
	#   Such a process still checks softroce's own memory accesses.
	# halt_on_error=1, abort_on_error=0: stop at the first report with exit
	#   code 1, which Criterion records as a crash of that test.
	export ASAN_OPTIONS="detect_leaks=1:verify_asan_link_order=0:halt_on_error=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	# halt_on_error=1 also for code built without -fno-sanitize-recover;
	# print_stacktrace=1 because a bare "runtime error" line rarely says enough.
	export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
	# One test at a time: Criterion 2.4.1's parallel runner (--jobs > 1)
	# leaks a few 48-byte blocks in the runner process itself. No
	# suppression can name them (libcriterion has no symbols) without also
	# hiding leaks of test code, whose stacks run through libcriterion too.
	export TEST_JOBS=${TEST_JOBS:-1}
	runtime=libasan.so
	;;
tsan)
	# halt_on_error=1: a race fails the test that hit it (exit 66 = crash)
	#   instead of being printed and forgotten.
	# second_deadlock_stack=1: lock-order reports show both acquisitions.
	# history_size=7: the longest history, so the stack of an earlier access
	#   (an emulated DMA on softroce's NIC thread) is restored and the
	#   suppressions below can match it.
	# suppressions: every tsan.supp of the tree, joined (TSan takes one
	#   file); each names only code that emulates hardware DMA, with why.
	supp="$BUILD/san/tsan.supp"
	mkdir -p "$BUILD/san"
	find . -path ./build -prune -o -path './build-*' -prune -o -name tsan.supp -print |
		sort | xargs cat >"$supp"
	export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=7:suppressions=$(cd "$(dirname "$supp")" && pwd)/tsan.supp${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
	# Criterion cannot place its shared arena under TSan without this shim;
	# see scripts/sanitizers/tsan-criterion-shim.c.
	shim=$(cd "$BUILD/san" && pwd)/tsan-criterion-shim.so
	export LD_PRELOAD="$shim${LD_PRELOAD:+:$LD_PRELOAD}"
	runtime=libtsan.so
	;;
*) echo "san-run.sh: SAN=$SAN: expected asan or tsan" >&2; exit 2 ;;
esac
# For test scripts that start an uninstrumented program against a sanitized
# library: TSan works only as the first library (LD_PRELOAD="$SAN_RUNTIME").
SAN_RUNTIME=$(readlink -f "$($CC -print-file-name=$runtime)")
export SAN_RUNTIME

# Test scripts run Debian's verbs tools (ibv_devinfo, ibv_rc_pingpong) against
# the sanitized softroce. Those programs are not instrumented, so the runtime
# would arrive late, as a dependency of softroce: ASan tolerates that with
# verify_asan_link_order=0, TSan crashes as soon as softroce starts a thread.
# Wrappers first on PATH start each tool with the runtime preloaded.
wrap_dir="$BUILD/san/bin"
mkdir -p "$wrap_dir"
for tool in $(dpkg -L ibverbs-utils 2>/dev/null | grep '^/usr/bin/'); do
	printf '#!/bin/sh\nLD_PRELOAD="%s${LD_PRELOAD:+:$LD_PRELOAD}" exec %s "$@"\n' \
		"$SAN_RUNTIME" "$tool" > "$wrap_dir/${tool##*/}"
	chmod +x "$wrap_dir/${tool##*/}"
done
PATH="$(cd "$wrap_dir" && pwd):$PATH"
export PATH

log="$BUILD/san-test.log"
mkdir -p "$BUILD"
"$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

reports=$(grep -aE '^SUMMARY: [A-Za-z]+Sanitizer|: runtime error: ' "$log")
if [ -n "$reports" ]; then
	n=$(printf '%s\n' "$reports" | wc -l)
	printf '%s\n' "$reports" | sed 's/^/  /'
	echo "$SAN: $n sanitizer report(s) in $log"
	[ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
