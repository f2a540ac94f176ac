#!/usr/bin/env bash
# Tidies a compilation database recorded by bear and prints its source files
# that lie under the given directories (relative to the repository root), one
# per line, sorted, unique.
#   files.sh compile_commands.json DIR...
# Tidying: bear also records the `clang -cc1` process that clang starts for a
# compile-and-link in one command; that entry is not a compiler command line
# and would make clang-tidy fail, so it is dropped from the database.
set -euo pipefail
db=$1; shift
python3 - "$db" "$PWD" "$@" <<'PY'
import json, os, sys
db, root, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
entries = [e for e in json.load(open(db)) if "-cc1" not in e.get("arguments", [])]
with open(db, "w") as out:
    json.dump(entries, out, indent=1)
files = set()
for entry in entries:
    path = os.path.normpath(os.path.join(entry.get("directory", root), entry["file"]))
    rel = os.path.relpath(path, root)
    if any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in dirs):
        files.add(rel)
print("\n".join(sorted(files)))
PY
