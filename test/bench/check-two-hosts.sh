#!/usr/bin/env bash
# spark-bench between two hosts started as separate commands, as on two real
# Sparks (`spark-bench --server` there, `spark-bench <peer>` here), both hosts
# emulated on one softroce fabric: the plan, the plugin's handles and the QP
# details cross the TCP control channel. Small sizes, bounded time. Checks that
# every transport produced every kind of point with a positive value, and that
# the server refuses a plan that is not spark-bench's.
set -euo pipefail
BUILD=${BUILD:-build}
bin=$BUILD/spark-bench
fab=$(mktemp -d)
srv_pid=
cleanup() { [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$fab"; }
trap cleanup EXIT
export SOFTROCE_FABRIC=$fab SOFTROCE_REORDER=0
port=$((20000 + RANDOM % 20000))

SOFTROCE_HOST=b timeout 120 "$bin" --server --softroce --port $port >"$fab/srv.out" 2>"$fab/srv.err" &
srv_pid=$!
if ! SOFTROCE_HOST=a timeout 120 "$bin" 127.0.0.1 --softroce --port $port --quick --csv \
	>"$fab/cli.csv" 2>"$fab/cli.err"; then
	echo "two-hosts: client failed"; cat "$fab/cli.err" "$fab/srv.err"; exit 1
fi
wait "$srv_pid" || { echo "two-hosts: server failed"; cat "$fab/srv.err"; exit 1; }
srv_pid=

fail=0
want() {   # test impl size: a row with a positive median
	if ! awk -F, -v t="$1" -v i="$2" -v s="$3" \
		'$1==t && $2==i && $3==s && $7>0 {ok=1} END {exit !ok}' "$fab/cli.csv"; then
		echo "two-hosts: no positive '$1' point for $2 at $3 B"; fail=1
	fi
}
for impl in ours stock one; do
	for size in 8 65536 1048576; do want uni $impl $size; want bidir $impl $size; done
	want nccl $impl 131072
done
want pingpong ours 8
want pingpong one 8
want raw link 67108864
want raw cable 67108864
head -1 "$fab/cli.csv" | grep -q '^test,impl,size_bytes,inflight,comms,unit,median' ||
	{ echo "two-hosts: CSV header changed"; fail=1; }
[ $fail -eq 0 ] || { cat "$fab/cli.csv"; exit 1; }

# A peer that is not spark-bench: the server names the problem and exits.
port=$((port + 1))
SOFTROCE_HOST=b timeout 60 "$bin" --server --softroce --port $port >/dev/null 2>"$fab/srv.err" &
srv_pid=$!
python3 - "$port" <<'PY'
import socket, sys, time
for _ in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        break
    except OSError:
        time.sleep(0.1)
s.sendall(b"GET / HTTP/1.0\r\n\r\n" + bytes(4096))
time.sleep(0.5)
PY
if wait "$srv_pid"; then echo "two-hosts: server accepted a malformed plan"; exit 1; fi
srv_pid=
grep -q "malformed plan" "$fab/srv.err" || { echo "two-hosts: no message"; cat "$fab/srv.err"; exit 1; }
echo "check-two-hosts: ok ($(grep -c . "$fab/cli.csv") rows)"
