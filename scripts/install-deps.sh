#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages this project builds and tests with.
# Run as root (sudo, or su -c on a Debian without sudo). Safe to run again:
# packages already installed are skipped, and apt's output goes to a log
# ($BUILD/install-deps.log from make) named when something fails.
#
#   install-deps.sh                 build + test with gcc (what `make test` needs)
#   install-deps.sh --clang         + clang and its runtimes (`make CC=clang`, `make fuzz`)
#   install-deps.sh --lint          + cppcheck, clang-tidy, bear (`make lint`)
#   install-deps.sh --cross aarch64 + Debian 12 arm64 cross toolchain, arm64 libraries,
#                                   qemu-user with binfmt_misc (`make cross-aarch64`,
#                                   `make test-aarch64`)
#   install-deps.sh --all           all of the above
#   install-deps.sh PKG...          extra packages on top
#
# docs/building.md explains the cross set-up (why Criterion goes to an overlay).
set -euo pipefail

PACKAGES=(
	build-essential pkg-config
	libibverbs-dev      # verbs + mlx5dv headers we compile against (rdma-core)
	ibverbs-utils       # ibv_devinfo, ibv_rc_pingpong: conformance checks of softroce
	perftest            # ib_write_bw & co.: outside clients of softroce (check-perftest.sh)
	python3-pyverbs     # rdma-core's Python binding: outside client of softroce (check-pyverbs.sh)
	iproute2            # ip netns / veth: two hosts as two namespaces (test/netns/check-netns.sh)
	gnuplot-nox         # make bench: build/bench/bandwidth.png and latency.png
	libhwloc-dev        # not used by the build since the PCIe link comes from sysfs; kept (issue 10 names it)
	libcriterion-dev    # unit and integration tests
	python3             # bench report formatting
	valgrind            # scripts/cpucost.sh: instructions per message (callgrind)
)
# libclang-rt-dev: libFuzzer and clang's sanitizer runtimes (libclang_rt.fuzzer-x86_64.a
# is in libclang-rt-14-dev on Debian 12), only a Recommends of clang's own packages.
CLANG_PACKAGES=(clang libclang-rt-dev)
LINT_PACKAGES=(cppcheck clang-tidy clang bear)

args=("$@")
want_clang=0; want_lint=0; cross=""; extra=()
while [ $# -gt 0 ]; do
	case "$1" in
	--clang) want_clang=1 ;;
	--lint) want_lint=1 ;;
	--cross) cross=${2:?--cross needs an architecture}; shift ;;
	--cross=*) cross=${1#--cross=} ;;
	--all) want_clang=1; want_lint=1; cross=aarch64 ;;
	-h|--help) sed -n '2,16p' "$0"; exit 0 ;;
	-*) echo "install-deps.sh: unknown option $1" >&2; exit 2 ;;
	*) extra+=("$1") ;;
	esac
	shift
done
case "$cross" in ""|aarch64) ;; arm64) cross=aarch64 ;;
	*) echo "install-deps.sh: --cross $cross: only aarch64 is supported" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
	cmd="$0${args[*]:+ ${args[*]}}"
	echo "install-deps.sh: needs root: sudo $cmd" >&2
	echo "  (or, without sudo: su -c '$cmd')" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive

# apt's own output goes to a log, named when something fails. From make it
# sits in the build directory; run by hand, in a fresh temporary file.
if [ -n "${BUILD:-}" ]; then
	mkdir -p "$BUILD"; log="$BUILD/install-deps.log"; : >"$log"
else
	log=$(mktemp "${TMPDIR:-/tmp}/install-deps.XXXXXX.log"); tmp_log=$log
fi
# The temporary log is removed unless something failed; fail() keeps it.
tmp_log=${tmp_log:-}; keep_log=0; work=""
cleanup() {
	[ -z "$work" ] || rm -rf "$work"
	[ -z "$tmp_log" ] || [ $keep_log -eq 1 ] || rm -f "$tmp_log"
}
trap cleanup EXIT
fail() {
	echo "install-deps.sh: $1 failed; the last lines of its output ($log):" >&2
	tail -n 15 "$log" | sed 's/^/  /' >&2
	keep_log=1
	exit 1
}
apt_q() { echo "+ apt-get $*" >>"$log"; apt-get "$@" >>"$log" 2>&1; }
apt_install() { apt_q install -y --no-install-recommends "$@" || fail "apt-get install $*"; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

pkgs=("${PACKAGES[@]}")
[ $want_clang -eq 1 ] && pkgs+=("${CLANG_PACKAGES[@]}")
[ $want_lint -eq 1 ] && pkgs+=("${LINT_PACKAGES[@]}")
pkgs+=("${extra[@]}")
todo=()      # the requested packages not installed yet, each once
for p in "${pkgs[@]}"; do
	installed "$p" && continue
	case " ${todo[*]} " in *" $p "*) continue ;; esac
	todo+=("$p")
done

if [ "$cross" = aarch64 ]; then
	dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
fi
# One apt-get update per run, and none when there is nothing to fetch.
updated=0
apt_update() {
	[ $updated -eq 1 ] && return 0
	apt_q update || fail "apt-get update"
	updated=1
}
if [ ${#todo[@]} -gt 0 ]; then
	apt_update
	total=$(apt-get install -s --no-install-recommends "${todo[@]}" 2>>"$log" | grep -c "^Inst " || true)
	echo "installing ${#todo[@]} packages (${total:-?} with their dependencies): ${todo[*]}"
	apt_install "${todo[@]}"
fi
[ "$cross" = aarch64 ] || exit 0

# ---- aarch64 cross build and qemu-user test runs (Debian 12 amd64 host) ----
OVERLAY=${AARCH64_OVERLAY:-/opt/libnccl-net-spark/arm64-root}
echo "installing the aarch64 cross toolchain, arm64 libraries and qemu-user (log: $log)"
apt_update
apt_install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user qemu-user-binfmt binfmt-support \
	libc6:arm64 libibverbs-dev:arm64 libhwloc-dev:arm64

# libcriterion3 depends on libnanomsg5, which (like libnanomsg-dev) is not
# Multi-Arch: same, so its arm64 build would replace the amd64 one that the
# native tests need. Install criterion's co-installable dependencies normally
# and unpack libcriterion + libnanomsg themselves into a private overlay.
# The Criterion headers are architecture-independent: the amd64 ones serve.
overlay_pkgs=(libcriterion3 libcriterion-dev)
# (Each pipeline reads its input to the end: an early exit would kill apt-cache
# with SIGPIPE and pipefail would count that as a failure.)
field() { apt-cache show --no-all-versions "$1" | awk -v f="$2:" '$1 == f && !v { $1 = ""; v = $0 } END { print v }'; }
for dep in $(field libcriterion3:arm64 Depends | tr ',' '\n' |
	sed -E 's/\(.*\)//; s/\|.*//; s/[[:space:]]//g'); do
	if [ "$(field "$dep:arm64" Multi-Arch | tr -d ' ')" = same ]; then
		apt_install "$dep:arm64"
	else
		overlay_pkgs+=("$dep")
	fi
done
work=$(mktemp -d)
(cd "$work" && apt_q -o APT::Sandbox::User=root download "${overlay_pkgs[@]/%/:arm64}") ||
	fail "apt-get download ${overlay_pkgs[*]/%/:arm64}"
mkdir -p "$work/root" "$OVERLAY/usr/lib/aarch64-linux-gnu"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
cp -a "$work"/root/usr/lib/aarch64-linux-gnu/*.so* "$OVERLAY/usr/lib/aarch64-linux-gnu/"
printf '%s\n' "${overlay_pkgs[@]}" > "$OVERLAY/PACKAGES"

# Criterion runs every test in a child that it re-executes from
# /proc/self/exe; under qemu-user that exec needs the kernel to know how to run
# an aarch64 ELF, so register qemu with binfmt_misc (mounting it if this
# machine booted without it).
"$(dirname "$0")/qemu-binfmt.sh" --enable
