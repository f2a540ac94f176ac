#!/usr/bin/env bash
# Prints the package version, valid as a Debian version and sorting upward
# with every commit (check with dpkg --compare-versions):
#   git checkout, after a v<X> tag:   X, then X+git<commits since>.<hash>
#   git checkout, no tag yet:         0.1.0~git<commits>.<hash> (before 0.1.0,
#                                     after the older 0.0~git<n>.<hash>)
#   `make dist` tarball (no .git):    the VERSION file make dist wrote, i.e.
#                                     the version of the commit it was cut from
#   neither:                          0~unknown, below every real build
# The checkout counts only when it is this source tree's own, not a repository
# that a tarball happens to be unpacked in.
set -euo pipefail
NEXT_RELEASE=0.1.0
src=$(cd "$(dirname "$0")/.." && pwd -P)
valid() { [[ $1 =~ ^[0-9][A-Za-z0-9.+~]*$ ]]; }

if top=$(git -C "$src" rev-parse --show-toplevel 2>/dev/null) &&
	[ "$(cd "$top" && pwd -P)" = "$src" ]; then
	hash=$(git -C "$src" rev-parse --short=8 HEAD)
	if tag=$(git -C "$src" describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null); then
		n=$(git -C "$src" rev-list --count "$tag..HEAD")
		if [ "$n" -eq 0 ]; then echo "${tag#v}"; else echo "${tag#v}+git$n.$hash"; fi
	else
		echo "$NEXT_RELEASE~git$(git -C "$src" rev-list --count HEAD).$hash"
	fi
elif [ -f "$src/VERSION" ]; then
	read -r v <"$src/VERSION" || true
	if ! valid "${v:-}"; then
		echo "pkg-version.sh: $src/VERSION holds '${v:-}', not a version" >&2
		exit 1
	fi
	echo "$v"
else
	echo "pkg-version.sh: no git checkout and no VERSION file: version 0~unknown" >&2
	echo "0~unknown"
fi
