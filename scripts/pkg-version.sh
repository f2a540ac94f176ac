#!/usr/bin/env bash
# Prints the package version: the newest v<N> tag (v1.2 -> 1.2, plus
# +git<commits>.<hash> after it), else 0.0~git<commits>.<hash>. Valid as a
# Debian version and sorting upward with every commit.
set -euo pipefail
if ! git rev-parse --git-dir >/dev/null 2>&1; then echo 0.0; exit 0; fi
hash=$(git rev-parse --short=8 HEAD)
if tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null); then
	n=$(git rev-list --count "$tag..HEAD")
	if [ "$n" -eq 0 ]; then echo "${tag#v}"; else echo "${tag#v}+git$n.$hash"; fi
else
	echo "0.0~git$(git rev-list --count HEAD).$hash"
fi
