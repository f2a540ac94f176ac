#!/usr/bin/env bash
# Checks (default) or, with --enable and as root, sets up the kernel's
# binfmt_misc entry that runs aarch64 ELF executables through qemu-user.
# Criterion re-executes each test binary for every test, so the tests can run
# under qemu only if a plain execve() of an aarch64 binary works.
# The registration lives in the kernel: it is lost at reboot, hence a script
# that `make test-aarch64` calls every time instead of a one-off install step.
set -euo pipefail
BINFMT=/proc/sys/fs/binfmt_misc
ENTRY=$BINFMT/qemu-aarch64

registered() { [ -r "$ENTRY" ] && head -n1 "$ENTRY" | grep -qx enabled; }

if registered; then exit 0; fi
if [ "${1:-}" != --enable ]; then
	echo "qemu-binfmt.sh: aarch64 binaries are not registered with binfmt_misc" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "qemu-binfmt.sh: run as root: sudo $0 --enable" >&2
	exit 1
fi
if [ ! -e "$BINFMT/register" ]; then
	mount -t binfmt_misc binfmt_misc "$BINFMT"
fi
command -v update-binfmts >/dev/null || {
	echo "qemu-binfmt.sh: update-binfmts missing: scripts/install-deps.sh --cross aarch64" >&2
	exit 1
}
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || update-binfmts --import qemu-aarch64
registered || { echo "qemu-binfmt.sh: could not register qemu-aarch64" >&2; exit 1; }
