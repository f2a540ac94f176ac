#!/usr/bin/env bash
# Prints the source files of a compilation database that lie under the given
# directories (relative to the repository root), one per line, sorted, unique.
#   files.sh compile_commands.json DIR...
set -euo pipefail
db=$1; shift
python3 - "$db" "$PWD" "$@" <<'PY'
import json, os, sys
db, root, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
files = set()
for entry in json.load(open(db)):
    path = os.path.normpath(os.path.join(entry.get("directory", root), entry["file"]))
    rel = os.path.relpath(path, root)
    if any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in dirs):
        files.add(rel)
print("\n".join(sorted(files)))
PY
