#!/usr/bin/env bash
# Wraps a staged install tree into two .debs with dpkg-deb (`make deb`):
#   PACKAGE_VERSION_ARCH.deb         the plugin (and tools), stripped, with the
#                                    DEP-5 copyright file
#   PACKAGE-dbgsym_VERSION_ARCH.deb  their debug symbols, by build-id, under
#                                    /usr/lib/debug/.build-id/ (gdb finds them)
#
#   mkdeb.sh STAGE PACKAGE VERSION DEB_ARCH MULTIARCH OUTDIR
#
# DEB_MAINTAINER sets the Maintainer field. OBJCOPY / STRIP name the binutils
# for the target (aarch64-linux-gnu-objcopy when cross building). Depends: the package owning each shared library the
# ELF files link against, asked of dpkg (libibverbs1, libc6).
set -euo pipefail
stage=$1 package=$2 version=$3 arch=$4 multiarch=$5 outdir=$6
OBJCOPY=${OBJCOPY:-objcopy} STRIP=${STRIP:-strip}
here=$(cd "$(dirname "$0")" && pwd)
dbg=$stage.dbgsym
rm -rf "$dbg" "$stage/DEBIAN"

is_elf() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }
elves=()
files=$(find "$stage" -type f | sort)   # (no process substitution: /dev/fd may be absent)
while IFS= read -r f; do is_elf "$f" && elves+=("$f"); done <<<"$files"
[ ${#elves[@]} -gt 0 ] || { echo "mkdeb.sh: no ELF file in $stage" >&2; exit 1; }

# --- Depends ---------------------------------------------------------------
depends=()
for f in "${elves[@]}"; do
	for needed in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		[ -e "$stage/usr/lib/$multiarch/$needed" ] && continue   # shipped here
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

# --- split debug symbols, strip ---------------------------------------------
# Like dh_strip: the debug sections go to a file named by the build-id, the
# shipped file keeps the build-id and a debuglink to it.
build_ids=()
for f in "${elves[@]}"; do
	id=$(readelf -n "$f" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p' | head -n1)
	[ ${#id} -gt 2 ] || { echo "mkdeb.sh: $f has no build-id (link with -Wl,--build-id)" >&2; exit 1; }
	out="$dbg/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
	mkdir -p "$(dirname "$out")"
	"$OBJCOPY" --only-keep-debug --compress-debug-sections "$f" "$out"
	chmod 0644 "$out"
	"$STRIP" --remove-section=.comment --remove-section=.note --strip-unneeded "$f"
	"$OBJCOPY" --add-gnu-debuglink="$out" "$f"
	build_ids+=("$id")
done

maint=${DEB_MAINTAINER:-"libnccl-net-spark authors <nobody@localhost>"}   # lintian wants a real address

# --- copyright (machine-readable, DEP-5) --------------------------------------
doc="$stage/usr/share/doc/$package"
mkdir -p "$doc"
{
	echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
	echo "Upstream-Name: $package"
	echo
	echo "Files: *"
	echo "Copyright: $(sed -n 's/^Copyright (c) //p' "$here/../LICENSE" | head -n1)"
	echo "License: Expat"
	# The license text, one space in; empty lines as " ." (DEP-5).
	sed -n '3,$p' "$here/../LICENSE" | sed 's/^$/./; s/^/ /'
} >"$doc/copyright"
chmod 0644 "$doc/copyright"
# A one-entry changelog (a package without one is not policy-compliant);
# SOURCE_DATE_EPOCH keeps it reproducible.
when=$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")
printf '%s (%s) unstable; urgency=medium\n\n  * Built by make deb from %s.\n\n -- %s  %s\n' \
	"$package" "$version" "$([ -f "$here/../VERSION" ] && echo "a make dist tarball" || echo "git")" \
	"$maint" "$when" | gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
# NCCL dlopen()s the plugin by file name (libnccl-net-<name>.so) and no
# program links against it, so it has no SONAME on purpose.
mkdir -p "$stage/usr/share/lintian/overrides"
echo "$package: sharedobject-in-library-directory-missing-soname [usr/lib/$multiarch/$package.so]" \
	>"$stage/usr/share/lintian/overrides/$package"
chmod 0644 "$stage/usr/share/lintian/overrides/$package"
mkdir -p "$dbg/usr/share/doc"
ln -s "$package" "$dbg/usr/share/doc/$package-dbgsym"

# --- control files, build ----------------------------------------------------
control() {   # control ROOT: writes ROOT/DEBIAN/{control,md5sums} from stdin
	mkdir -p "$1/DEBIAN"
	(cd "$1" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
		xargs -r md5sum) >"$1/DEBIAN/md5sums"
	{ cat; echo "Installed-Size: $(du -sk --exclude=DEBIAN "$1" | cut -f1)"; } >"$1/DEBIAN/control"
}
control "$stage" <<CONTROL
Package: $package
Version: $version
Architecture: $arch
Maintainer: $maint
Depends: $depends_line
Section: libs
Priority: optional
Description: NCCL network plugin for pairs of NVIDIA DGX Spark
 Presents the two RoCE functions behind each ConnectX-7 QSFP port of a
 DGX Spark as one NCCL network device and stripes large messages across
 both PCIe paths. Select it with NCCL_NET_PLUGIN=spark.
CONTROL
control "$dbg" <<CONTROL
Package: $package-dbgsym
Source: $package
Version: $version
Architecture: $arch
Maintainer: $maint
Depends: $package (= $version)
Section: debug
Priority: optional
Auto-Built-Package: debug-symbols
Build-Ids: ${build_ids[*]}
Description: debug symbols for $package
CONTROL

out="$outdir/${package}_${version}_${arch}.deb"
out_dbg="$outdir/${package}-dbgsym_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
dpkg-deb --root-owner-group -Zxz --build "$dbg" "$out_dbg" >/dev/null
echo "deb: $out"
dpkg-deb --info "$out" | sed -n 's/^ \(Package\|Version\|Architecture\|Depends\):/  \1:/p'
echo "deb: $out_dbg (debug symbols)"
