#!/usr/bin/env bash
# softroce: Debian's unmodified ibv_rc_pingpong between a host-a server and a
# host-b client over roceP2p1s0f0 (RoCE v2 GID 3): busy polling, completion
# channels (-e), a multi-segment checked payload (-c -s), and the streamed
# copy fallback (SOFTROCE_COPY=stream).
set -euo pipefail
BUILD=${BUILD:-build}
fab=$(mktemp -d)
srv_pid=
cleanup() { [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$fab"; }
trap cleanup EXIT
export SOFTROCE_FABRIC=$fab LD_LIBRARY_PATH=$BUILD/softroce
port=$((20000 + RANDOM % 20000))

run() {
	local name=$1; shift
	port=$((port + 1))
	SOFTROCE_HOST=a timeout 60 ibv_rc_pingpong -p $port -d roceP2p1s0f0 -g 3 "$@" \
		>"$fab/srv.log" 2>&1 &
	srv_pid=$!
	local ok=1
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		sleep 0.2
		if SOFTROCE_HOST=b timeout 60 ibv_rc_pingpong -p $port -d roceP2p1s0f0 -g 3 \
			"$@" 127.0.0.1 >"$fab/cli.log" 2>&1; then ok=0; break; fi
		grep -q 'Couldn.t connect' "$fab/cli.log" || break
	done
	wait "$srv_pid" && srv=0 || srv=$?
	srv_pid=
	if [ $ok -ne 0 ] || [ $srv -ne 0 ]; then
		echo "pingpong $name failed"; cat "$fab/srv.log" "$fab/cli.log"; exit 1
	fi
	echo "pingpong $name: $(tail -n1 "$fab/cli.log")"
}

run poll
run events -e
run checked -c -s 1048576 -n 50
SOFTROCE_COPY=stream run stream -c -s 300000 -n 50
echo "check-pingpong: ok"
