#!/usr/bin/env bash
# cppcheck over the files listed in FILES, each with the include paths and
# defines it is compiled with (read from the compilation database). Files with
# the same flags are checked in one cppcheck run.
#   cppcheck.sh compile_commands.json FILES JOBS
# (cppcheck's own --project reader drops the quotes of string defines such as
# -DSPARK_BUILD_DIR="...", which then reads as a syntax error.)
set -euo pipefail
db=$1 list=$2 jobs=${3:-2}
here=$(cd "$(dirname "$0")" && pwd)
python3 - "$db" "$list" <<'PY' > "$list.groups"
import json, os, sys
db, listfile = sys.argv[1], sys.argv[2]
wanted = set(open(listfile).read().split())
root = os.getcwd()
groups = {}
for e in json.load(open(db)):
    path = os.path.relpath(os.path.normpath(os.path.join(e.get("directory", root), e["file"])), root)
    if path not in wanted:
        continue
    args = e.get("arguments") or e["command"].split()
    flags, take = [], False
    for a in args[1:]:
        if take:
            flags.append(a); take = False
        elif a in ("-I", "-D", "-U", "-include", "-isystem", "-iquote"):
            flags.append(a); take = True
        elif a.startswith(("-I", "-D", "-U")):
            flags.append(a)
    groups.setdefault(tuple(flags), set()).add(path)
for flags, files in sorted(groups.items()):
    print("\x1f".join(flags) + "\t" + "\x1f".join(sorted(files)))
PY
rc=0
while IFS=$'\t' read -r flags files; do
	IFS=$'\x1f' read -r -a flag_args <<<"$flags"
	IFS=$'\x1f' read -r -a file_args <<<"$files"
	cppcheck --enable=warning,style,performance,portability --inline-suppr --error-exitcode=1 \
		--std=c11 --platform=unix64 --library=posix --library="$here/cppcheck.cfg" \
		--suppressions-list="$here/cppcheck-suppressions.txt" \
		--template='{file}:{line}: {severity}: {message} [{id}]' -q -j"$jobs" \
		"${flag_args[@]}" "${file_args[@]}" || rc=1
done < "$list.groups"
exit $rc
