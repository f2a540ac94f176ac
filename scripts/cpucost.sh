#!/usr/bin/env bash
# CPU cost of the data path per message, under valgrind's callgrind: host a
# sends, host b receives 64 KiB messages, 8 in flight, on one comm
# (test/cpucost/spark_cpucost.c). Only plugin calls that make progress are
# measured (the driver waits for the peer before each call and toggles
# collection around the calls). Prints, per side and per message:
# instructions inside the plugin (its own code, libc and verbs excluded),
# instructions of the whole call (everything below the v8 entry points:
# plugin + libc + the verbs provider, here softroce), and the post_send /
# poll_cq / post_recv calls made.
#   scripts/cpucost.sh [ROUNDS]          (default 64 rounds = 512 messages)
#   CPUCOST_KEEP=DIR scripts/cpucost.sh keeps the profiles in DIR.
# Needs valgrind (scripts/install-deps.sh installs it).
set -euo pipefail
BUILD=${BUILD:-build}
ROUNDS=${1:-64}
command -v valgrind >/dev/null || { echo "cpucost: valgrind is not installed" >&2; exit 1; }
make -s -j2 BUILD="$BUILD" "$BUILD/test/cpucost/spark_cpucost" "$BUILD/libnccl-net-spark.so" \
	"$BUILD/softroce/libibverbs.so.1" >/dev/null
# CPUCOST_KEEP=DIR keeps the callgrind profiles there (for callgrind_annotate).
if [ -n "${CPUCOST_KEEP:-}" ]; then
	out=$CPUCOST_KEEP
	mkdir -p "$out"
	rm -f "$out"/cg.*
else
	out=$(mktemp -d /tmp/cpucost-XXXXXX)
	trap 'rm -rf "$out"' EXIT
fi
CPUCOST_ROUNDS=$ROUNDS valgrind --tool=callgrind --collect-atstart=no \
	--callgrind-out-file="$out/cg.%p" "$BUILD/test/cpucost/spark_cpucost" 2>"$out/log" ||
	{ cat "$out/log" >&2; exit 1; }
grep '^cpucost' "$out/log"
msgs=$((ROUNDS * 8))
# Host a is the parent (the lower pid); host b was forked from it.
files=$(ls "$out"/cg.* | sort -t. -k2 -n)
side=sender
for f in $files; do
	python3 - "$f" "$msgs" "$side" <<'PY'
import re, sys
path, msgs, side = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# Self cost per object, read from the raw file: callgrind_annotate leaves
# the object off lines inlined from headers (wire.h, engine.h, verbs.h),
# which would drop code inlined into the plugin from its count. The cost
# line right after a calls= line is the call's inclusive cost: skipped.
objs, ob, after_call = {}, None, False
plugin = total = 0
for line in open(path):
    m = re.match(r"(c?)ob=\((\d+)\)(?: (.*))?$", line.strip())
    if m:   # a name is given once, on its first ob= or cob= line
        name = objs.setdefault(m.group(2), m.group(3) or "?")
        if not m.group(1):
            ob = name
        continue
    if line.startswith("calls="):
        after_call = True
        continue
    m = re.match(r"(?:[+-]?\d+|\*)\s+(\d+)\s*$", line)
    if m:
        if not after_call:
            ir = int(m.group(1))
            total += ir
            if ob is not None and ob.endswith("libnccl-net-spark.so"):
                plugin += ir
        after_call = False
# Call counts: cfn= names the callee, the calls= line after it counts calls.
names, calls, callee = {}, {}, None
for line in open(path):
    m = re.match(r"c?fn=\((\d+)\)(?: (.*))?$", line.strip())
    if m:
        name = names.setdefault(m.group(1), m.group(2) or "?")
        callee = name if line.startswith("cfn=") else None
        continue
    m = re.match(r"calls=(\d+)", line)
    if m and callee:
        calls[callee] = calls.get(callee, 0) + int(m.group(1))
def count(word):
    return sum(n for name, n in calls.items() if re.search(word, name))
print(f"{side}: {plugin / msgs:7.0f} instructions/message inside the plugin, "
      f"{total / msgs:7.0f} in the whole call; per message: "
      f"post_send {count(r'post_send$') / msgs:.2f}, poll_cq {count(r'poll_cq$') / msgs:.2f}, "
      f"post_recv {count(r'post_recv$') / msgs:.2f}")
PY
	side=receiver
done
