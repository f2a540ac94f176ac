#!/usr/bin/env bash
# cppcheck over the plugin, its ABI header and its tests: no findings allowed.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v cppcheck >/dev/null || { echo "cppcheck not installed: skipped"; exit 0; }
cppcheck --quiet --error-exitcode=1 --enable=warning,style,performance,portability \
	--std=c11 -Iinclude -Iplugin --library=test/unit/criterion.cfg \
	--suppress=missingIncludeSystem plugin include test/unit test/integration
echo "cppcheck: no findings"
