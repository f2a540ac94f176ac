#!/usr/bin/env bash
# softroce: Debian's unmodified ibv_devinfo lists the four Spark HCAs of host a,
# sees the port states of the default topology and the RoCE v2 IPv4 GID at 3.
set -euo pipefail
BUILD=${BUILD:-build}
fab=$(mktemp -d)
trap 'rm -rf "$fab"' EXIT
export SOFTROCE_FABRIC=$fab SOFTROCE_HOST=a LD_LIBRARY_PATH=$BUILD/softroce
list=$(ibv_devinfo -l)
echo "$list"
for h in rocep1s0f0 rocep1s0f1 roceP2p1s0f0 roceP2p1s0f1; do
	grep -qx "[[:space:]]*$h" <<<"$list" || { echo "missing $h"; exit 1; }
done
grep -q '^4 HCAs found' <<<"$list"
v=$(ibv_devinfo -v -d roceP2p1s0f0)
grep -q 'vendor_part_id:[[:space:]]*4129' <<<"$v"
grep -q 'state:[[:space:]]*PORT_ACTIVE' <<<"$v"
grep -q 'link_layer:[[:space:]]*Ethernet' <<<"$v"
grep -q 'GID\[  3\]:[[:space:]]*::ffff:192.168.101.1, RoCE v2' <<<"$v"
ibv_devinfo -d rocep1s0f1 | grep -q 'state:[[:space:]]*PORT_DOWN'
SOFTROCE_HOST=b ibv_devinfo -v -d rocep1s0f0 | grep -q '::ffff:192.168.100.2, RoCE v2'
# sysfs tree beside it
ib=$fab/sys/a/class/infiniband/roceP2p1s0f0
[ "$(cat "$ib/ports/1/state")" = "4: ACTIVE" ]
[ "$(cat "$ib/ports/1/gid_attrs/types/3")" = "RoCE v2" ]
[ "$(cat "$ib/device/current_link_speed")" = "32.0 GT/s PCIe" ]
[ -f "$ib/device/net/enP2p1s0f0np0/mtu" ]
# no fabric: no devices
! env -u SOFTROCE_FABRIC ibv_devinfo -l | grep -q roce
echo "check-devinfo: ok"
