#!/usr/bin/env bash
# A peer host that vanishes without a FIN (power loss; every cable and the
# management network down): two emulated Sparks as network namespaces
# (lib.sh), the bootstrap on a management veth of its own (enP7s7,
# 10.77.0.H/24), and host a with a busy comm (streaming to b) and an idle
# one (waiting for a message from b). In each case nothing b's kernel sends
# (FIN, RST, any packet) reaches a:
#   power-loss  every link of b down, then b SIGKILLed;
#   frozen      b SIGSTOPped, then every link of b down; once a is done, b
#               is continued (its links still down) and both its comms fail;
#   mgmt-only   only the bootstrap path down, then b SIGKILLed: the rails stay
#               lit, so no port event helps: the heartbeat's silence must.
# a's comms must both fail (hang bound 3 x NCCL_SPARK_PEER_TIMEOUT + 10 s,
# nn_vanish.c) with a NET/Spark WARN naming the cause, and close. The times
# to error are printed for docs/reliability.md (reported, not asserted).
set -euo pipefail
NETNS_NAME=vanish
. "$(dirname "$0")/lib.sh"
vanish=$BUILD/test/netns/nn-vanish
mgmt=enP7s7
netns_setup $mgmt
[ -x "$vanish" ] || fail "$vanish not built (make test builds it)"
export NCCL_SOCKET_IFNAME=$mgmt NCCL_SPARK_PEER_TIMEOUT=${NCCL_SPARK_PEER_TIMEOUT:-3}
say "hosts a=$nsa b=$nsb, bootstrap over $mgmt, NCCL_SPARK_PEER_TIMEOUT=$NCCL_SPARK_PEER_TIMEOUT"

# signal_b SIG: every process in b's namespace (the pid of `on b ...` may be
# ip's or env's, not nn-vanish's). One may end between the listing and the
# kill (b failing on its own once its links went down): not an error here
# (set -e would end the check silently, as it did once in CI).
signal_b() { ip netns pids "$nsb" | xargs -r kill -"$1" 2>/dev/null || true; }
exited() { ! kill -0 "$1" 2>/dev/null; }
# wait_exit PID WHAT: the process ends within 60 s (a hang guard).
wait_exit() {
	local i
	for i in $(seq 600); do exited "$1" && return 0; sleep 0.1; done
	fail "$2: still running after 60 s"
}

# run_case NAME SIGNAL LINK...
run_case() {
	local name=$1 sig=$2 l; shift 2
	local d=$work/$name
	mkdir "$d"
	mkfifo "$d/a2b" "$d/b2a"
	export SOFTROCE_FABRIC=$d/fabric
	fail_tails=("$name/a.out" "$name/b.out")
	wait_ports_active
	on b "$vanish" b "$d" >"$d/b.out" 2>&1 & pids+=($!)
	local pb=$!
	on a "$vanish" a "$d" >"$d/a.out" 2>&1 & pids+=($!)
	local pa=$!
	wait_for "$name: 16 messages before the fault" \
		bash -c "[ \"\$(cat '$d/progress' 2>/dev/null || echo 0)\" -ge 16 ]"
	# a's clock starts here, a moment before the fault. A stopped host
	# is frozen first (it sends nothing either way); a killed one loses
	# its links first, so its kernel's FIN and RST go nowhere.
	touch "$d/fault"
	[ "$sig" != STOP ] || signal_b STOP
	for l in "$@"; do on b ip link set "$l" down; done
	[ "$sig" = STOP ] || signal_b "$sig"
	wait_exit "$pa" "$name: host a"
	wait "$pa" || fail "$name: host a exit $?"
	grep -q 'WARN NET/Spark' "$d/a.out" || fail "$name: host a failed without a WARN"
	if [ "$sig" = STOP ]; then
		# Frozen past the timeout (b's view of a goes stale as well).
		sleep $((NCCL_SPARK_PEER_TIMEOUT + 1))
		signal_b CONT
		wait_exit "$pb" "$name: host b (continued)"
		wait "$pb" || fail "$name: host b exit $?"
		grep -q 'WARN NET/Spark' "$d/b.out" || fail "$name: host b failed without a WARN"
		grep -q 'resumed after' "$d/b.out" || fail "$name: host b never noticed it was stopped"
	else
		wait "$pb" 2>/dev/null || true     # killed
	fi
	pids=()
	say "$name ($sig, $* down): $(grep -h '^nn-vanish' "$d/a.out" "$d/b.out" | tr '\n' ' ')"
	grep -h 'WARN NET/Spark' "$d/a.out" | sed 's/^/    /' | head -n 4
	for l in "$@"; do on b ip link set "$l" up; done
}

run_case power-loss KILL enp1s0f0np0 enP2p1s0f0np0 $mgmt
run_case frozen STOP enp1s0f0np0 enP2p1s0f0np0 $mgmt
run_case mgmt-only KILL $mgmt
netns_finish
echo "check-vanish: ok"
