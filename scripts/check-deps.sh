#!/usr/bin/env bash
# Checks that the build dependencies are present. With --install, installs the
# missing ones through scripts/install-deps.sh when running as root, and
# otherwise prints the command to run (su -c on a Debian without sudo).
#
#   check-deps.sh [--install] [--clang] [--lint] [--cross aarch64]
#
# The variant options are the ones mk/variants.mk passes for CC=clang, `make
# lint` and ARCH=aarch64; they are handed on to install-deps.sh unchanged.
# Each check names what is missing in words and the package that brings it;
# a package is named once however many checks it answers.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

install=0; variant=(); cross=""; clang=0; lint=0; after_install=0
while [ $# -gt 0 ]; do
	case "$1" in
	--install) install=1 ;;
	--after-install) after_install=1 ;;   # (internal: the check after install-deps.sh)
	--clang) clang=1; variant+=(--clang) ;;
	--lint) lint=1; variant+=(--lint) ;;
	--cross) cross=$2; variant+=(--cross "$2"); shift ;;
	*) echo "check-deps.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

missing=()   # what is missing, in words
pkgs=()      # packages, each once
need() {     # need PACKAGE WHAT: record a missing dependency
	missing+=("$2")
	local p
	for p in "${pkgs[@]}"; do [ "$p" = "$1" ] && return 0; done
	pkgs+=("$1")
}
cc=${HOST_CC:-cc}
have_cc=1
command -v "$cc" >/dev/null || { have_cc=0; need build-essential "a C compiler ($cc)"; }
# A compiler without libc's headers cannot build anything either.
if [ $have_cc -eq 1 ] && ! printf '#include <stdio.h>\n' | "$cc" -E -x c - >/dev/null 2>&1; then
	need build-essential "the C library headers (stdio.h)"
fi
# Header checks need a compiler; without one, name every header package.
have_header() { [ $have_cc -eq 1 ] && printf '#include <%s>\n' "$1" | "$cc" -E -x c - >/dev/null 2>&1; }
have_header infiniband/verbs.h    || need libibverbs-dev "verbs headers (infiniband/verbs.h)"
have_header infiniband/mlx5dv.h   || need libibverbs-dev "mlx5 direct-verbs header (infiniband/mlx5dv.h)"
have_header criterion/criterion.h || need libcriterion-dev "Criterion test headers (criterion/criterion.h)"
command -v ibv_rc_pingpong >/dev/null || need ibverbs-utils "verbs tools (ibv_rc_pingpong)"
command -v ib_write_bw >/dev/null || need perftest "perftest (ib_write_bw: softroce's outside clients)"
[ -e /usr/lib/python3/dist-packages/pyverbs ] || need python3-pyverbs "pyverbs (python3-pyverbs: softroce's outside clients)"
command -v python3 >/dev/null     || need python3 "python3"
command -v ip >/dev/null          || need iproute2 "ip (iproute2: test/netns's namespaces)"
command -v gnuplot >/dev/null     || need gnuplot-nox "gnuplot (make bench's plots)"
[ $clang -eq 0 ] || command -v clang >/dev/null || need clang "clang"
if [ $lint -eq 1 ]; then
	command -v cppcheck >/dev/null   || need cppcheck "cppcheck"
	command -v clang-tidy >/dev/null || need clang-tidy "clang-tidy"
	command -v clang >/dev/null      || need clang "clang"
	command -v bear >/dev/null       || need bear "bear"
fi
if [ "$cross" = aarch64 ]; then
	overlay=${AARCH64_OVERLAY:-/opt/libnccl-net-spark/arm64-root}
	lib=/usr/lib/aarch64-linux-gnu
	command -v aarch64-linux-gnu-gcc >/dev/null || need gcc-aarch64-linux-gnu "aarch64 cross compiler"
	command -v qemu-aarch64 >/dev/null || need qemu-user "qemu-aarch64"
	[ -e $lib/libibverbs.so ] || need libibverbs-dev:arm64 "arm64 libibverbs"
	[ -e "$overlay/usr/lib/aarch64-linux-gnu/libcriterion.so" ] ||
		need "criterion-overlay" "arm64 Criterion in $overlay"
	# The binfmt_misc entry is kernel state, gone after a reboot: re-register
	# it directly when that is all that is missing.
	if ! "$here/qemu-binfmt.sh" 2>/dev/null; then
		if [ $install -eq 1 ] && [ "$(id -u)" -eq 0 ] && command -v update-binfmts >/dev/null; then
			"$here/qemu-binfmt.sh" --enable || need binfmt "qemu-aarch64 registered with binfmt_misc"
		else
			need binfmt "qemu-aarch64 registered with binfmt_misc"
		fi
	fi
fi

[ ${#missing[@]} -eq 0 ] && exit 0
echo "missing: $(printf '%s, ' "${missing[@]}" | sed 's/, $//')" >&2
if [ $install -eq 1 ] && [ "$(id -u)" -eq 0 ]; then
	# Then check again: a package that installed but did not bring what was
	# missing (another release's name for it) is reported here, not as a
	# compiler error later.
	"$here/install-deps.sh" "${variant[@]}" || exit 1
	exec "$0" --after-install "${variant[@]}"
fi
if [ $after_install -eq 1 ]; then
	echo "still missing after scripts/install-deps.sh, though its packages (${pkgs[*]}) are installed:" >&2
	echo "  this release may name them differently (supported: Debian 12, Ubuntu 24.04)" >&2
	exit 1
fi
# Not root: the command that installs them, as a user can run it.
cmd="$(printf %q "$here/install-deps.sh")${variant[*]:+ ${variant[*]}}"
echo "packages: ${pkgs[*]}" >&2
echo "install them as root (scripts/install-deps.sh), then run make again:" >&2
if command -v sudo >/dev/null; then
	echo "  sudo $cmd" >&2
	echo "  (or, without sudo: su -c '$cmd')" >&2
else
	echo "  su -c '$cmd'" >&2
fi
exit 1
