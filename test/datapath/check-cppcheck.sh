#!/usr/bin/env bash
# cppcheck over the data-path tests and the bench (the plugin itself is
# covered by test/unit/check-cppcheck.sh): no findings allowed.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v cppcheck >/dev/null || { echo "cppcheck not installed: skipped"; exit 0; }
cppcheck --quiet --error-exitcode=1 --enable=warning,style,performance,portability \
	--std=c11 -Iinclude -Iplugin --library=test/unit/criterion.cfg \
	--suppress=missingIncludeSystem test/datapath test/bench
echo "cppcheck (data-path tests, bench): no findings"
