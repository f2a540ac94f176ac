#!/usr/bin/env bash
# clang-tidy (.clang-tidy at the top) over the files listed in FILES, with the
# flags of the compilation database in BUILD_DIR, JOBS files at a time.
# Headers under the given directories are checked through the files that
# include them; system headers are not.
#   clang-tidy.sh BUILD_DIR FILES JOBS DIR...
set -uo pipefail
build=$1 list=$2 jobs=$3; shift 3
dirs=$(IFS='|'; echo "$*")
# clang-tidy prints "N warnings generated." for the findings it hides (those
# in system headers); only the shown ones matter.
xargs -a "$list" -r -n1 -P"$jobs" clang-tidy -p "$build" --quiet \
	--header-filter="^$PWD/($dirs)/" 2>&1 |
	grep -vE '^[0-9]+ (warning|error)s? (and [0-9]+ (warning|error)s? )?generated\.$'
status=("${PIPESTATUS[@]}")
exit "${status[0]}"
