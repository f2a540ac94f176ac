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
# Without root or working namespaces: exit 77 with the reason (lib.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
xfer=$BUILD/test/netns/nn-xfer

netns_setup
[ -x "$xfer" ] || fail "$xfer not built (make test builds it)"
export NCCL_SOCKET_IFNAME=enp1s0f0np0
say "hosts a=$nsa b=$nsb, veths enp1s0f0np0 192.168.100.{1,2}, enP2p1s0f0np0 192.168.101.{1,2}"
checked() { cat "$work/progress" 2>/dev/null || echo 0; }
progress_past() { [ "$(checked)" -ge "$1" ]; }
wait_ports_active

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

netns_finish
echo "check-netns: ok"
