#!/usr/bin/env bash
# CPU cost of the data path per message, under valgrind's callgrind: host a
# sends, host b receives 64 KiB messages, 8 in flight, on one comm
# (test/cpucost/spark_cpucost.c). Only plugin calls that make progress are
# measured (the driver waits for the peer before each call and toggles
# collection around the calls). Prints, per side and per message:
# instructions inside the plugin (its own code, libc and verbs excluded),
# instructions of the whole call (everything below the v8 entry points:
# plugin + libc + the verbs provider, here softroce), and the post_send /
# poll_cq / post_recv calls made. Two shapes of 8 in flight, each reported:
# "rounds" (8 posted from idle rails, then the 8 tested) and "slide" (NCCL's
# proxy: a window kept full, a new send as each oldest completes).
#   scripts/cpucost.sh [ROUNDS]          (default 64: 512 messages per shape)
#   CPUCOST_MODES="rounds" scripts/cpucost.sh     one shape only
#   CPUCOST_KEEP=DIR scripts/cpucost.sh  keeps the profiles in DIR/<shape>
# Needs valgrind (scripts/install-deps.sh installs it).
set -euo pipefail
BUILD=${BUILD:-build}
ROUNDS=${1:-64}
MODES=${CPUCOST_MODES:-rounds slide}
command -v valgrind >/dev/null || { echo "cpucost: valgrind is not installed" >&2; exit 1; }
make -s -j2 BUILD="$BUILD" "$BUILD/test/cpucost/spark_cpucost" "$BUILD/libnccl-net-spark.so" \
	"$BUILD/softroce/libibverbs.so.1" >/dev/null
tmp=$(mktemp -d /tmp/cpucost-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/report.py" <<'PY'
import re, sys
path, msgs, side, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
# Self cost per object, read from the raw file: callgrind_annotate leaves
# the object off lines inlined from headers (wire.h, engine.h, verbs.h),
# which would drop code inlined into the plugin from its count. The cost
# line right after a calls= line is the call's inclusive cost: skipped.
# Work paced by the wall clock, not by messages: the peer check every 100 ms
# (socket read, control frames decoded: heartbeats come once a second) and
# the parameters it reads. Shown apart: its share per message depends on how
# long the run takes (valgrind, the slowed links of "slide"), where a real
# run at 64 KiB x 8 spreads it over tens of thousands of messages.
PACED = {"spark_peer_poll", "take_frame", "on_frame", "drain", "timed_out",
         "closed_with_work", "spark_ctl_rx_next", "spark_ctl_decode", "header_decode", "reason_decode", "zeros",
         "spark_params"}
objs, ob, after_call, fns, fn = {}, None, False, {}, None
plugin = total = paced = 0
for line in open(path):
    m = re.match(r"(c?)fn=\((\d+)\)(?: (.*))?$", line.strip())
    if m:   # a name is given once, on its first fn= or cfn= line
        name = re.sub(r"[.'].*$", "", fns.setdefault(m.group(2), m.group(3) or "?"))
        if not m.group(1):
            fn = name
        continue
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
                paced += ir if fn in PACED else 0
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
print(f"{mode:6} {side}: {plugin / msgs:7.0f} instructions/message inside the plugin "
      f"({(plugin - paced) / msgs:.0f} + {paced / msgs:.0f} paced by the clock), "
      f"{total / msgs:7.0f} in the whole call; per message: "
      f"post_send {count(r'post_send$') / msgs:.2f}, poll_cq {count(r'poll_cq$') / msgs:.2f}, "
      f"post_recv {count(r'post_recv$') / msgs:.2f}")
PY
msgs=$((ROUNDS * 8))
for mode in $MODES; do
	out=${CPUCOST_KEEP:-$tmp}/$mode
	mkdir -p "$out"
	rm -f "$out"/cg.*
	CPUCOST_MODE=$mode CPUCOST_ROUNDS=$ROUNDS valgrind --tool=callgrind --collect-atstart=no \
		--callgrind-out-file="$out/cg.%p" "$BUILD/test/cpucost/spark_cpucost" 2>"$out/log" ||
		{ cat "$out/log" >&2; exit 1; }
	grep '^cpucost' "$out/log"
	# Host a is the parent (the lower pid); host b was forked from it.
	side=sender
	for f in $(ls "$out"/cg.* | sort -t. -k2 -n); do
		python3 "$tmp/report.py" "$f" "$msgs" "$side" "$mode"
		side=receiver
	done
done
