#!/usr/bin/env bash
# make test's part of the fuzzing: every harness (test/fuzz/fuzz_*.c), built
# with the project's compiler and variant, over its seeds and its kept corpus
# (valid encodings and every input that once found a bug). No clang needed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-build}
rc=0; n=0
for src in "$here"/fuzz_*.c; do
	name=$(basename "$src" .c); name=${name#fuzz_}
	bin=$build/test/fuzz/replay_$name
	if [ ! -x "$bin" ]; then
		echo "replay: $bin not built"; rc=1; continue
	fi
	printf '%-12s ' "$name"
	"$bin" "$here/corpus/$name" || { echo "replay: $name FAILED"; rc=1; }
	n=$((n + 1))
done
echo "replay: $n harnesses"
[ $n -gt 0 ] || rc=1
exit $rc
