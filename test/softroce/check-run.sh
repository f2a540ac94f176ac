#!/usr/bin/env bash
# softroce: softroce-run shows a host's emulated sysfs at the real paths to a
# program that reads them directly (cat, as NCCL's IB transport would), keeps
# the real classes visible, leaves the host's /sys untouched, and refuses
# clearly without root or without a fabric.
set -euo pipefail
BUILD=${BUILD:-build}
run=$BUILD/softroce/softroce-run
fab=$(mktemp -d)
trap 'rm -rf "$fab"' EXIT
unset LD_LIBRARY_PATH SOFTROCE_HOST SOFTROCE_FABRIC
fail() { echo "check-run: $*"; exit 1; }

# no fabric: a message, non-zero
if out=$("$run" -H a -- true 2>&1); then fail "ran without a fabric"; fi
grep -q 'no fabric' <<<"$out" || fail "no-fabric message: $out"

# Root in a container without CAP_SYS_ADMIN cannot unshare either.
# (--propagation unchanged: in a chroot "/" is no mount point, which softroce-run
# handles but unshare's default of making "/" private does not.)
if [ "$(id -u)" -ne 0 ] || ! unshare -m --propagation unchanged true 2>/dev/null; then
	# The unprivileged answer is the one this machine can check.
	if out=$("$run" -F "$fab" -H a -- true 2>&1); then fail "ran without root"; fi
	grep -q 'needs root' <<<"$out" || fail "no-root message: $out"
	echo "check-run: ok (no private mount namespace here: refusal checked, the view not)"
	exit 0
fi

ib=/sys/class/infiniband/roceP2p1s0f0
[ "$("$run" -F "$fab" -H a -- cat $ib/ports/1/gid_attrs/types/3)" = "RoCE v2" ] ||
	fail "types/3 is not RoCE v2 under the launcher"
[ "$("$run" -F "$fab" -H b -- cat /sys/class/infiniband/rocep1s0f0/ports/1/gids/3)" = \
  "0000:0000:0000:0000:0000:ffff:c0a8:6402" ] || fail "host b's GID 3"
dev=$("$run" -F "$fab" -H a -- readlink -f $ib/device)
[[ $dev == */0002:01:00.0 ]] || fail "device link: $dev"
# what NCCL's topology reads through that link
[ "$("$run" -F "$fab" -H a -- cat $ib/device/class $ib/device/max_link_width)" = \
  "$(printf '0x020000\n4')" ] || fail "PCI function attributes"
[ "$("$run" -F "$fab" -H a -- cat /sys/class/net/enP2p1s0f0np0/mtu)" = 9000 ] ||
	fail "emulated netdev not under /sys/class/net"
"$run" -F "$fab" -H a -- test -e /sys/class/net/lo/address || fail "real lo lost"
"$run" -F "$fab" -H a -- test -d /sys/class/block || fail "real class block lost"
env=$("$run" -F "$fab" -H b -- sh -c 'echo "$SOFTROCE_HOST $SOFTROCE_FABRIC $LD_LIBRARY_PATH"')
[ "$env" = "b $fab $(cd "$BUILD/softroce" && pwd)" ] || fail "environment: $env"
# an unmodified verbs program through the launcher
"$run" -F "$fab" -H a -- ibv_devinfo -l | grep -q '^4 HCAs found' || fail "ibv_devinfo"
# the command's status comes back; nothing leaks out of the namespace
set +e; "$run" -F "$fab" -H a -- sh -c 'exit 7'; rc=$?; set -e
[ $rc -eq 7 ] || fail "exit status $rc, want 7"
[ ! -e $ib ] || [ "$(readlink -f $ib/device)" != "$dev" ] || fail "the view leaked to the host"
# without root: the launcher says so (setpriv is util-linux)
if command -v setpriv >/dev/null; then
	chmod 755 "$fab"
	if out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$run" -F "$fab" -H a -- true 2>&1); then
		fail "ran without root"
	fi
	grep -q 'needs root' <<<"$out" || fail "no-root message: $out"
fi
echo "check-run: ok"
