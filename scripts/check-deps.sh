#!/usr/bin/env bash
# Checks that the build dependencies are present. With --install, installs the
# missing ones through scripts/install-deps.sh when running as root, and
# otherwise prints the one command to run.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

missing=()
have_header() { printf '#include <%s>\n' "$1" | ${CC:-cc} -E -x c - >/dev/null 2>&1; }
have_header infiniband/verbs.h   || missing+=(libibverbs-dev)
have_header infiniband/mlx5dv.h  || missing+=(libibverbs-dev)
have_header hwloc.h              || missing+=(libhwloc-dev)
have_header criterion/criterion.h || missing+=(libcriterion-dev)
command -v ibv_rc_pingpong >/dev/null || missing+=(ibverbs-utils)
command -v python3 >/dev/null    || missing+=(python3)

[ ${#missing[@]} -eq 0 ] && exit 0
echo "Missing packages: ${missing[*]}" >&2
if [ "${1:-}" = "--install" ] && [ "$(id -u)" -eq 0 ]; then
	exec "$here/install-deps.sh"
fi
echo "Run: sudo $here/install-deps.sh" >&2
exit 1
