#!/usr/bin/env bash
# make test's view of torch_check.py: passes on a machine with torch and a
# GPU, exits 77 (skipped, with the reason) on one without; also checks the
# table choice it expects per NCCL version.
set -uo pipefail
py=$(command -v python3) || { echo "SKIP torch_check: no python3"; exit 77; }
"$py" - <<'PY' || exit 1
import importlib.util, sys
spec = importlib.util.spec_from_file_location("tc", "test/nccl/torch_check.py")
tc = importlib.util.module_from_spec(spec); spec.loader.exec_module(tc)
want = {(2, 19): "v7", (2, 20): "v8", (2, 24): "v9", (2, 27): "v10", (2, 28): "v11", (2, 29): "v11",
        (2, 30): "v12", (2, 32): "v12"}
bad = {v: tc.table_for(v) for v in want if tc.table_for(v) != want[v]}
sys.exit(f"table_for wrong: {bad}" if bad else 0)
PY
timeout 600 "$py" test/nccl/torch_check.py --plugin "${BUILD:-build}/libnccl-net-spark.so"
