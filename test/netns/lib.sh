# Two emulated Sparks as two network namespaces: what check-netns.sh and
# check-vanish.sh share (sourced). Each host is a namespace with two veths
# named and addressed as a Spark's halves (enp1s0f0np0 192.168.100.H/24,
# enP2p1s0f0np0 192.168.101.H/24); the veth pairs are the cable. softroce
# runs with SOFTROCE_NETDEV=real, so each HCA follows its veth (link state,
# MTU). The caller sets `say` to its name and calls netns_setup.
# Without root or without working namespaces (a container without
# CAP_SYS_ADMIN, no iproute2): exit 77 with the reason; the two-host tests
# of test/datapath cover the same traffic over loopback.
BUILD=${BUILD:-build}
say() { echo "${NETNS_NAME:-netns}: $*"; }
skip() { say "skipped: $*; two-host tests run over loopback"; exit 77; }
# Files of $work whose tails a failure shows.
fail_tails=(a.out b.out events)
fail() {
	say "FAIL: $*"
	local f
	for f in "${fail_tails[@]}"; do
		f=${work:-/nonexistent}/$f
		[ ! -s "$f" ] || { echo "--- ${f##*/}"; tail -n 20 "$f"; }
	done
	exit 1
}

links() { ip -o link | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort; }
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done
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

# netns_setup [MGMT]: the two namespaces and the cable; MGMT (an interface
# name) adds a third veth pair, 10.77.0.H/24, a management network for the
# bootstrap. Sets nsa, nsb, tag, work, fab; installs the cleanup trap.
netns_setup() {
	[ "$(id -u)" -eq 0 ] || skip "not root (ip netns needs CAP_SYS_ADMIN and CAP_NET_ADMIN)"
	command -v ip >/dev/null || skip "no ip command (Debian package iproute2)"
	links_before=$(links)
	tag=$$-$RANDOM
	nsa=spark-a-$tag nsb=spark-b-$tag
	work=$(mktemp -d)
	trap cleanup EXIT
	local err
	if ! err=$(ip netns add "$nsa" 2>&1); then skip "ip netns add: $err"; fi
	ip netns add "$nsb" || skip "ip netns add $nsb failed"
	ip netns exec "$nsa" true 2>"$work/err" || skip "ip netns exec: $(cat "$work/err")"
	# name:net: interfaces and addresses of one Spark; the veth pairs are
	# created straight into the namespaces, so no name ever exists outside them.
	local half dev net
	for half in enp1s0f0np0:192.168.100 enP2p1s0f0np0:192.168.101 ${1:+$1:10.77.0}; do
		dev=${half%%:*} net=${half##*:}
		ip link add "$dev" netns "$nsa" type veth peer name "$dev" netns "$nsb" ||
			skip "no veth pairs here (ip link add type veth failed)"
		ip -n "$nsa" addr add "$net.1/24" dev "$dev"
		ip -n "$nsb" addr add "$net.2/24" dev "$dev"
		ip -n "$nsa" link set "$dev" mtu 9000 up
		ip -n "$nsb" link set "$dev" mtu 9000 up
	done
	ip -n "$nsa" link set lo up
	ip -n "$nsb" link set lo up
	fab=$work/fabric
	export SOFTROCE_FABRIC=$fab SOFTROCE_NETDEV=real NCCL_SPARK_IB_TIMEOUT=22 \
		LD_LIBRARY_PATH=$BUILD/softroce
}

# netns_finish: everything removed, and nothing left behind.
netns_finish() {
	cleanup
	trap - EXIT
	local left new
	left=$(ip netns list | grep -c -- "-$tag" || true)
	[ "$left" -eq 0 ] || fail "$left namespaces left behind"
	new=$(comm -13 <(echo "$links_before") <(links))
	[ -z "$new" ] || fail "interfaces left in the root namespace: $new"
	say "nothing left behind (ip netns list, ip link)"
}

# on HOST CMD...: run CMD as emulated host a or b, in that host's namespace.
on() { local h=$1; shift; ip netns exec "spark-$h-$tag" env SOFTROCE_HOST="$h" "$@"; }
# port HOST HCA: "STATE MTU" as Debian's ibv_devinfo prints them.
port() {
	on "$1" ibv_devinfo -d "$2" | awk '/state:/ { s = $2 } /active_mtu:/ { m = $2 } END { print s, m }'
}
port_is() { [ "$(port "$1" "$2")" = "$3" ]; }
# wait_for WHAT CMD...: CMD until it succeeds; fails after 60 s (a hang
# guard: every wait below is for something that must happen). A host that
# exits early fails it too.
wait_for() {
	local what=$1 i p; shift
	for i in $(seq 600); do
		"$@" && return 0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || fail "$what: a host exited early"; done
		sleep 0.1
	done
	fail "$what: not after 60 s"
}
# The kernel turns a veth's carrier into operstate up a moment after `up`.
wait_ports_active() {
	local h hca
	for h in a b; do
		for hca in rocep1s0f0 roceP2p1s0f0; do
			wait_for "host $h $hca ACTIVE at MTU 9000" port_is $h $hca "PORT_ACTIVE 4096"
		done
	done
}
