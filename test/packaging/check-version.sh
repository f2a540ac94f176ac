#!/usr/bin/env bash
# Package versions sort right (dpkg --compare-versions): a `make dist` tarball
# unpacked without git builds the version of the commit it was cut from, and
# git builds sort above the old 0.0~git scheme and below the first release.
set -euo pipefail
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-version: $*"; exit 1; }
valid() { dpkg --compare-versions "$1" gt 0 2>/dev/null; }

# No git, no VERSION: the fallback sorts below everything.
mkdir -p "$tmp/bare/scripts" && cp scripts/pkg-version.sh "$tmp/bare/scripts/"
low=$("$tmp/bare/scripts/pkg-version.sh" 2>/dev/null)
[ "$low" = "0~unknown" ] || fail "no git, no VERSION: got '$low'"
# A VERSION file wins where there is no git; a malformed one is refused.
echo 0.3+git7.abcdef12 >"$tmp/bare/VERSION"
[ "$("$tmp/bare/scripts/pkg-version.sh")" = 0.3+git7.abcdef12 ] || fail "VERSION not read"
echo 'not a version' >"$tmp/bare/VERSION"
! "$tmp/bare/scripts/pkg-version.sh" 2>/dev/null || fail "malformed VERSION accepted"

if ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo "check-version: ok (no git checkout here: make dist not checked)"
	exit 0
fi
v=$(scripts/pkg-version.sh)
valid "$v" || fail "'$v' is not a Debian version"
dpkg --compare-versions "$v" gt 0~unknown || fail "$v <= 0~unknown"
dpkg --compare-versions "$v" gt "0.0~git99999.ffffffff" || fail "$v does not upgrade the old 0.0~git scheme"
if ! git describe --tags --match 'v[0-9]*' >/dev/null 2>&1; then
	dpkg --compare-versions "$v" lt 0.1.0 || fail "untagged $v sorts above the first release 0.1.0"
fi

# make dist: the tarball carries VERSION; unpacked (no .git), it builds as $v.
env -u MAKEFLAGS -u MAKELEVEL make -s --no-print-directory dist BUILD="$tmp/b" >/dev/null
tarball=$tmp/b/libnccl-net-spark-$v.tar.gz
[ -f "$tarball" ] || fail "make dist did not write $tarball"
tar -C "$tmp" -xzf "$tarball"
src=$tmp/libnccl-net-spark-$v
[ "$(cat "$src/VERSION")" = "$v" ] || fail "tarball VERSION is '$(cat "$src/VERSION")', not $v"
got=$(cd "$src" && GIT_CEILING_DIRECTORIES=$tmp scripts/pkg-version.sh)
[ "$got" = "$v" ] || fail "built from the tarball: $got, from git: $v"
echo "check-version: ok ($v; tarball builds $got)"
