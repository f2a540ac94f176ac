#!/usr/bin/env bash
# Checks that the build dependencies are present. With --install, installs the
# missing ones through scripts/install-deps.sh when running as root, and
# otherwise prints the one command to run.
#
#   check-deps.sh [--install] [--clang] [--lint] [--cross aarch64]
#
# The variant options are the ones mk/variants.mk passes for CC=clang, `make
# lint` and ARCH=aarch64; they are handed on to install-deps.sh unchanged.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

install=0; variant=(); cross=""; clang=0; lint=0
while [ $# -gt 0 ]; do
	case "$1" in
	--install) install=1 ;;
	--clang) clang=1; variant+=(--clang) ;;
	--lint) lint=1; variant+=(--lint) ;;
	--cross) cross=$2; variant+=(--cross "$2"); shift ;;
	*) echo "check-deps.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

missing=()
have_header() { printf '#include <%s>\n' "$1" | ${HOST_CC:-cc} -E -x c - >/dev/null 2>&1; }
have_header infiniband/verbs.h   || missing+=(libibverbs-dev)
have_header infiniband/mlx5dv.h  || missing+=(libibverbs-dev)
have_header hwloc.h              || missing+=(libhwloc-dev)
have_header criterion/criterion.h || missing+=(libcriterion-dev)
command -v ibv_rc_pingpong >/dev/null || missing+=(ibverbs-utils)
command -v ib_write_bw >/dev/null || missing+=(perftest)          # check-perftest.sh
[ -e /usr/lib/python3/dist-packages/pyverbs ] || missing+=(python3-pyverbs) # check-pyverbs.sh
command -v python3 >/dev/null    || missing+=(python3)
[ $clang -eq 0 ] || command -v clang >/dev/null || missing+=(clang)
if [ $lint -eq 1 ]; then
	for tool in cppcheck clang-tidy clang bear; do
		command -v $tool >/dev/null || missing+=($tool)
	done
fi
if [ "$cross" = aarch64 ]; then
	overlay=${AARCH64_OVERLAY:-/opt/libnccl-net-spark/arm64-root}
	lib=/usr/lib/aarch64-linux-gnu
	command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
	command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
	[ -e $lib/libibverbs.so ] || missing+=(libibverbs-dev:arm64)
	[ -e $lib/libhwloc.so ] || missing+=(libhwloc-dev:arm64)
	[ -e "$overlay/usr/lib/aarch64-linux-gnu/libcriterion.so" ] || missing+=("criterion-arm64-overlay($overlay)")
	# The binfmt_misc entry is kernel state, gone after a reboot: re-register
	# it directly when that is all that is missing.
	if ! "$here/qemu-binfmt.sh" 2>/dev/null; then
		if [ $install -eq 1 ] && [ "$(id -u)" -eq 0 ] && command -v update-binfmts >/dev/null; then
			"$here/qemu-binfmt.sh" --enable || missing+=(qemu-binfmt-aarch64)
		else
			missing+=(qemu-binfmt-aarch64)
		fi
	fi
fi

[ ${#missing[@]} -eq 0 ] && exit 0
echo "Missing: ${missing[*]}" >&2
if [ $install -eq 1 ] && [ "$(id -u)" -eq 0 ]; then
	exec "$here/install-deps.sh" "${variant[@]}"
fi
echo "Run: sudo $here/install-deps.sh ${variant[*]}" >&2
exit 1
