#!/usr/bin/env bash
# Two emulated Sparks as two network namespaces. Each host is a namespace
# with two veths named and addressed as a Spark's halves (enp1s0f0np0
# 192.168.100.H/24, enP2p1s0f0np0 192.168.101.H/24); the veth pairs are the
# cable; softroce runs with SOFTROCE_NETDEV=real, so each HCA follows its
# veth (link state, MTU). The plugin's TCP bootstrap crosses the veths
# (NCCL_SOCKET_IFNAME=enp1s0f0np0). Checked:
#   - a two-host transfer (nn-xfer, one process per namespace), every byte
#     checked by the receiver;
#   - `ip link set enP2p1s0f0np0 down` in host a's namespace mid-stream: the
#     port is DOWN in ibv_devinfo on both hosts (the peer's veth loses its
#     carrier, as the far end of a pulled cable does), IBV_EVENT_PORT_ERR is
#     raised, the traffic carries on over the other half; up again: ACTIVE,
#     IBV_EVENT_PORT_ACTIVE, the traffic still flows;
#   - a veth at MTU 1500: active_mtu 1024 on that host, the peer's unchanged;
#   - nothing left behind (ip netns list, ip link).
# Without root or without working namespaces (a container without
# CAP_SYS_ADMIN, no iproute2): exit 77 with the reason; the two-host tests
# of test/datapath cover the same traffic over loopback.
set -euo pipefail
BUILD=${BUILD:-build}
xfer=$BUILD/test/netns/nn-xfer
say() { echo "netns: $*"; }
skip() { say "skipped: $*; two-host tests run over loopback"; exit 77; }
fail() {
	say "FAIL: $*"
	local f
	for f in "${work:-/nonexistent}"/{a.out,b.out,events}; do
		[ ! -s "$f" ] || { echo "--- ${f##*/}"; tail -n 20 "$f"; }
	done
	exit 1
}

[ "$(id -u)" -eq 0 ] || skip "not root (ip netns needs CAP_SYS_ADMIN and CAP_NET_ADMIN)"
command -v ip >/dev/null || skip "no ip command (Debian package iproute2)"
[ -x "$xfer" ] || fail "$xfer not built (make test builds it)"

links() { ip -o link | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort; }
links_before=$(links)
tag=$$-$RANDOM
nsa=spark-a-$tag nsb=spark-b-$tag
work=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	# A pid above may be `ip netns exec`'s, not its child's: everything
	# still running in the namespaces goes too, before its files are removed
	# (a softroce process left behind keeps writing into the fabric).
	local ns i
	for ns in "$nsa" "$nsb"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
	for i in $(seq 50); do
		[ -z "$(ip netns pids "$nsa" 2>/dev/null)$(ip netns pids "$nsb" 2>/dev/null)" ] && break
		sleep 0.1
	done
	# Deleting a namespace destroys its veths, and with them their peers.
	ip netns del "$nsa" 2>/dev/null || true
	ip netns del "$nsb" 2>/dev/null || true
	# A killed process's last writes can still be landing: retry for a while.
	for i in $(seq 20); do
		rm -rf "$work" 2>/dev/null && return 0
		sleep 0.5
	done
	echo "netns: warning: could not remove $work (something still writes there)" >&2
}
trap cleanup EXIT

if ! err=$(ip netns add "$nsa" 2>&1); then skip "ip netns add: $err"; fi
ip netns add "$nsb" || skip "ip netns add $nsb failed"
ip netns exec "$nsa" true 2>"$work/err" || skip "ip netns exec: $(cat "$work/err")"

# name host-octet: interfaces and addresses of one Spark; the veth pairs are
# created straight into the namespaces, so no name ever exists outside them.
for half in enp1s0f0np0:100 enP2p1s0f0np0:101; do
	dev=${half%%:*} net=${half##*:}
	ip link add "$dev" netns "$nsa" type veth peer name "$dev" netns "$nsb" ||
		skip "no veth pairs here (ip link add type veth failed)"
	ip -n "$nsa" addr add "192.168.$net.1/24" dev "$dev"
	ip -n "$nsb" addr add "192.168.$net.2/24" dev "$dev"
	ip -n "$nsa" link set "$dev" mtu 9000 up
	ip -n "$nsb" link set "$dev" mtu 9000 up
done
ip -n "$nsa" link set lo up
ip -n "$nsb" link set lo up
say "hosts a=$nsa b=$nsb, veths enp1s0f0np0 192.168.100.{1,2}, enP2p1s0f0np0 192.168.101.{1,2}"

fab=$work/fabric
export SOFTROCE_FABRIC=$fab SOFTROCE_NETDEV=real NCCL_SOCKET_IFNAME=enp1s0f0np0 \
	NCCL_SPARK_IB_TIMEOUT=22 LD_LIBRARY_PATH=$BUILD/softroce
# on HOST CMD...: run CMD as emulated host a or b, in that host's namespace.
on() { local h=$1; shift; ip netns exec "spark-$h-$tag" env SOFTROCE_HOST="$h" "$@"; }
# port HOST HCA: "STATE MTU" as Debian's ibv_devinfo prints them.
port() {
	on "$1" ibv_devinfo -d "$2" | awk '/state:/ { s = $2 } /active_mtu:/ { m = $2 } END { print s, m }'
}
# wait_for WHAT CMD...: CMD until it succeeds; fails after 60 s (a hang
# guard: every wait below is for something that must happen).
wait_for() {
	local what=$1 i; shift
	for i in $(seq 600); do
		"$@" && return 0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || fail "$what: a host exited early"; done
		sleep 0.1
	done
	fail "$what: not after 60 s"
}
port_is() { [ "$(port "$1" "$2")" = "$3" ]; }
checked() { cat "$work/progress" 2>/dev/null || echo 0; }
progress_past() { [ "$(checked)" -ge "$1" ]; }

# The kernel turns a veth's carrier into operstate up a moment after `up`.
for h in a b; do
	for hca in rocep1s0f0 roceP2p1s0f0; do
		wait_for "host $h $hca ACTIVE at MTU 9000" port_is $h $hca "PORT_ACTIVE 4096"
	done
done

mkfifo "$work/a2b" "$work/b2a"
on a ibv_asyncwatch -d roceP2p1s0f0 >"$work/events" 2>&1 & pids+=($!)
on b "$xfer" recv "$work" >"$work/b.out" 2>&1 & pids+=($!)
on a "$xfer" send "$work" >"$work/a.out" 2>&1 & pids+=($!)
wait_for "16 messages before the fault" progress_past 16
n=$(checked)
on a ip link set enP2p1s0f0np0 down
say "enP2p1s0f0np0 down in host a's namespace after $n messages"
wait_for "roceP2p1s0f0 DOWN on host a" port_is a roceP2p1s0f0 "PORT_DOWN 4096"
wait_for "roceP2p1s0f0 DOWN on host b (its veth lost the carrier)" port_is b roceP2p1s0f0 "PORT_DOWN 4096"
port_is a rocep1s0f0 "PORT_ACTIVE 4096" || fail "the other half went down too"
wait_for "IBV_EVENT_PORT_ERR" grep -q PORT_ERR "$work/events"
wait_for "traffic over the other half" progress_past $((n + 40))
n=$(checked)
say "ports DOWN on both hosts, PORT_ERR raised, $n messages checked so far"
on a ip link set enP2p1s0f0np0 up
wait_for "roceP2p1s0f0 ACTIVE on host a" port_is a roceP2p1s0f0 "PORT_ACTIVE 4096"
wait_for "roceP2p1s0f0 ACTIVE on host b" port_is b roceP2p1s0f0 "PORT_ACTIVE 4096"
wait_for "IBV_EVENT_PORT_ACTIVE" grep -q PORT_ACTIVE "$work/events"
wait_for "traffic after the rail came back" progress_past $((n + 16))
touch "$work/stop"
rc_b=0 rc_a=0
wait "${pids[1]}" || rc_b=$?
wait "${pids[2]}" || rc_a=$?
pids=("${pids[0]}")                # the event watcher stays for the address part
cat "$work/a.out" "$work/b.out"
[ "$rc_a" -eq 0 ] && [ "$rc_b" -eq 0 ] || fail "nn-xfer exit: send $rc_a, recv $rc_b"
grep -q 'every byte right' "$work/b.out" || fail "receiver did not check every byte"
say "back up: ACTIVE on both hosts, PORT_ACTIVE raised; $(grep -o '[0-9]* messages, [0-9]* bytes' "$work/b.out") checked, every byte right"

# The netdev's MTU: RoCE payload is what the netdev MTU leaves after the
# headers (mlx5's active_mtu), on the host whose netdev changed.
on a ip link set enp1s0f0np0 mtu 1500
wait_for "active_mtu 1024 at MTU 1500" port_is a rocep1s0f0 "PORT_ACTIVE 1024"
port_is b rocep1s0f0 "PORT_ACTIVE 4096" || fail "host b's MTU followed host a's netdev"
# softroce-run inside the namespace (ip netns exec mounted that namespace's
# /sys): /sys/class/net keeps the real veth, the emulated PCI function's
# net/ directory shows the MTU it follows.
run=$BUILD/softroce/softroce-run
[ "$(on a "$run" -- cat /sys/class/net/enp1s0f0np0/mtu)" = 1500 ] ||
	fail "softroce-run hides the namespace's veth"
emu_mtu() {
	[ "$(on a "$run" -- cat /sys/class/infiniband/rocep1s0f0/device/net/enp1s0f0np0/mtu)" = "$1" ]
}
wait_for "the emulated sysfs MTU" emu_mtu 1500
on a ip link set enp1s0f0np0 mtu 9000
wait_for "active_mtu 4096 at MTU 9000" port_is a rocep1s0f0 "PORT_ACTIVE 4096"
say "veth MTU 1500: active_mtu 1024 (3) on host a, 4096 on host b; 9000: 4096 again"

# The IPv4 GIDs are the netdev's address, as in the kernel's RoCE GID table.
gid3() { on "$1" ibv_devinfo -v -d "$2" | grep -o 'GID\[  3\]:.*' || true; }
gid3_is() { [ "$(gid3 "$1" "$2")" = "$3" ]; }
on a ip addr del 192.168.101.1/24 dev enP2p1s0f0np0
wait_for "no GID 3 once the address is gone" gid3_is a roceP2p1s0f0 ""
wait_for "IBV_EVENT_GID_CHANGE" grep -q GID_CHANGE "$work/events"
on a ip addr add 192.168.101.7/24 dev enP2p1s0f0np0
wait_for "GID 3 of the new address" gid3_is a roceP2p1s0f0 $'GID[  3]:\t\t::ffff:192.168.101.7, RoCE v2'
gid3_is b roceP2p1s0f0 $'GID[  3]:\t\t::ffff:192.168.101.2, RoCE v2' || fail "host b's GID 3: $(gid3 b roceP2p1s0f0)"
say "address removed: no IPv4 GID, GID_CHANGE raised; 192.168.101.7 added: GID 3 ::ffff:192.168.101.7"

cleanup
trap - EXIT
left=$(ip netns list | grep -c -- "-$tag" || true)
[ "$left" -eq 0 ] || fail "$left namespaces left behind"
new=$(comm -13 <(echo "$links_before") <(links))
[ -z "$new" ] || fail "interfaces left in the root namespace: $new"
say "nothing left behind (ip netns list, ip link)"
echo "check-netns: ok"
