#!/usr/bin/env bash
# Wraps a staged install tree into a .deb with dpkg-deb (`make deb`).
#   mkdeb.sh STAGE PACKAGE VERSION DEB_ARCH MULTIARCH OUTDIR
# Depends: the package owning each shared library the plugin links against,
# asked of dpkg for the target architecture (libibverbs1, libhwloc15, libc6).
set -euo pipefail
stage=$1 package=$2 version=$3 arch=$4 multiarch=$5 outdir=$6

depends=()
for lib in "$stage"/usr/lib/"$multiarch"/*.so "$stage"/usr/bin/*; do
	[ -f "$lib" ] || continue
	for needed in $(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		owner=""
		for dir in /usr/lib/"$multiarch" /lib/"$multiarch"; do
			[ -e "$dir/$needed" ] || continue
			owner=$(dpkg -S "$dir/$needed" 2>/dev/null | head -n1 | cut -d: -f1) && break
		done
		[ -n "$owner" ] || { echo "mkdeb.sh: no $arch package provides $needed" >&2; exit 1; }
		depends+=("$owner")
	done
done
depends_line=$(printf '%s\n' "${depends[@]}" | sort -u | paste -sd, | sed 's/,/, /g')

mkdir -p "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: $package
Version: $version
Architecture: $arch
Maintainer: libnccl-net-spark developers <nobody@localhost>
Installed-Size: $size
Depends: $depends_line
Section: libs
Priority: optional
Description: NCCL network plugin for pairs of NVIDIA DGX Spark
 Presents the two RoCE functions behind each ConnectX-7 QSFP port of a
 DGX Spark as one NCCL network device and stripes large messages across
 both PCIe paths. Select it with NCCL_NET_PLUGIN=spark.
CONTROL
out="$outdir/${package}_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$stage" "$out" >/dev/null
echo "deb: $out"
dpkg-deb --info "$out" | sed -n 's/^ \(Package\|Version\|Architecture\|Depends\):/  \1:/p'
