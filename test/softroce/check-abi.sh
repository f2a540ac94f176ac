#!/usr/bin/env bash
# softroce: every symbol that rdma-core's libibverbs.so.1 and libmlx5.so.1
# export (name@version, default and compatibility versions alike) is exported
# by softroce's library of the same name.  The reference is the installed
# Debian library (libibverbs1 / ibverbs-providers); with nothing to compare
# against the check fails rather than passing empty.
set -euo pipefail
BUILD=${BUILD:-build}
multiarch=$(${CC:-cc} -print-multiarch 2>/dev/null || true)
libdir=/usr/lib/${multiarch:-x86_64-linux-gnu}
syms() {  # name@version or name@@version of every defined dynamic symbol
	# (the version nodes themselves are listed as absolute symbols)
	nm -D --defined-only --with-symbol-versions "$1" | awk 'NF == 3 { print $3 }' | sort -u
}
status=0
for lib in libibverbs.so.1 libmlx5.so.1; do
	real=$(readlink -f "$libdir/$lib" || true)
	ours=$BUILD/softroce/$lib
	if [ ! -f "$real" ]; then echo "check-abi: no reference $libdir/$lib (install libibverbs1 / ibverbs-providers)"; exit 1; fi
	[ -f "$ours" ] || { echo "check-abi: $ours not built"; exit 1; }
	want=$(syms "$real"); have=$(syms "$ours")
	missing=$(comm -23 <(echo "$want") <(echo "$have"))
	n=$(wc -l <<<"$want")
	if [ -n "$missing" ]; then
		echo "check-abi: $lib lacks $(grep -c . <<<"$missing") of rdma-core's symbols or version nodes:"
		echo "$missing" | sed 's/^/  /'
		status=1
	else
		echo "check-abi: $lib exports all $n symbols of $real"
	fi
done
[ $status -eq 0 ] && echo "check-abi: ok"
exit $status
