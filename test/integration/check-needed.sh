#!/usr/bin/env bash
# The plugin's NEEDED list is libibverbs and the C runtime only (libc, and
# libdl / libpthread on a glibc older than 2.34 where they are separate): NCCL
# loads it in containers that carry no more than the RDMA stack, so any other
# library (libhwloc was one) would make dlopen fail there. Sanitizer builds
# add their runtimes (libasan, libubsan, libtsan, libstdc++/libgcc_s, libm),
# which are set aside here, and only those.
set -euo pipefail
so=${BUILD:-build}/libnccl-net-spark.so
needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort)
echo "NEEDED:" $needed
allowed='^(libibverbs\.so\.1|libc\.so\.6|libdl\.so\.2|libpthread\.so\.0)$'
san='^(libasan\.so\.[0-9]+|libubsan\.so\.[0-9]+|libtsan\.so\.[0-9]+|libstdc\+\+\.so\.6|libgcc_s\.so\.1|libm\.so\.6|ld-linux.*)$'
bad=$(grep -Ev "$allowed" <<<"$needed" | grep -Ev "$san" || true)
if [ -n "$bad" ]; then
	echo "unexpected NEEDED entries (a container with only the RDMA stack lacks them):" $bad
	exit 1
fi
grep -q '^libibverbs\.so\.1$' <<<"$needed" || { echo "libibverbs.so.1 not NEEDED"; exit 1; }
