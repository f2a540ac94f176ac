#!/usr/bin/env bash
# scripts/gpu-check.sh OUTDIR: everything issue 12 needs a GPU for, in one
# run of under 8 minutes on one GPU (the step limits add up to 435 s), with a build made elsewhere (docs/nccl.md
# has the one command). Each step has its own deadline and cannot hang the
# script; every step's log and a summary table land in OUTDIR.
#
#   info        nvidia-smi, the NCCLs found (CUDA toolkit's, torch's), torch
#   ours        nccl_check through our plugin, the toolkit's NCCL: six
#               collectives 8 B..64 MiB checked, NET/Spark on the fused device,
#               and the table NCCL loaded (v11 for 2.28/2.29, v12 for 2.30+)
#   ours-torch  the same under torch's bundled NCCL (smaller sizes)
#   one-hca, both-hcas, force-merge
#               NCCL's own IB transport on the same emulated links
#               (softroce-run), the stock baselines
#   torch       torch.distributed all_reduce/all_gather through the plugin,
#               NCCL_CUMEM_ENABLE=0 and default
#   compare     busbw table and ratios (compare-nccl) from ours + baselines
#
# Exit 0 when every step that could run passed; 1 otherwise.
#
# scripts/gpu-check.sh --prepare (on the build machine, after make): copies
# the plugin's libraries a bare GPU machine may lack (libudev, where it is
# among them: it came with libhwloc, which the plugin no longer links) to
# build/gpu-libs, which the run puts on LD_LIBRARY_PATH.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${BUILD:-$root/build}" 2>/dev/null && pwd || echo "${BUILD:-$root/build}")
export BUILD=$build     # compare-nccl --emulated reads it
if [ "${1:-}" = --prepare ]; then
	mkdir -p "$build/gpu-libs" || exit 1
	for lib in libudev.so.1; do
		path=$(ldd "$build/libnccl-net-spark.so" | awk -v l="$lib" '$1 == l {print $3}')
		[ -n "$path" ] || { echo "gpu-check --prepare: $lib not among the plugin's libraries; not bundled"; continue; }
		cp -L "$path" "$build/gpu-libs/$lib" && echo "bundled $path"
	done
	for f in libnccl-net-spark.so test/nccl/nccl_check softroce/libibverbs.so.1 softroce/softroce-run; do
		[ -e "$build/$f" ] || echo "gpu-check --prepare: WARNING: $build/$f is not built"
	done
	exit 0
fi
out=${1:?usage: scripts/gpu-check.sh OUTDIR | --prepare}
[ -d "$build/gpu-libs" ] && export LD_LIBRARY_PATH=$build/gpu-libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
mkdir -p "$out/compare" || exit 1
out=$(cd "$out" && pwd)
summary=$out/summary.txt
: > "$summary"
start_all=$SECONDS
failures=0

# step NAME LIMIT_S CMD...: runs CMD with its output in OUTDIR/NAME.log,
# killed at LIMIT_S (then KILL 5 s later); records PASS/FAIL/SKIP/TIMEOUT.
step() {
	local name=$1 limit=$2; shift 2
	local log=$out/$name.log t0=$SECONDS rc result
	echo "== $name (limit ${limit}s): $*"
	if [ "$(type -t "$1")" = function ]; then
		"$@" > "$log" 2>&1     # a function of this script: its commands have deadlines
	else
		timeout -k 5 "$limit" "$@" > "$log" 2>&1
	fi
	rc=$?
	case $rc in
	0) result=PASS ;;
	77) result=SKIP ;;
	124|137) result=TIMEOUT; failures=$((failures + 1)) ;;
	*) result="FAIL(rc=$rc)"; failures=$((failures + 1)) ;;
	esac
	printf '%-12s %-12s %4ss  %s\n' "$name" "$result" $((SECONDS - t0)) "$log" | tee -a "$summary"
	tail -n 3 "$log" | sed 's/^/    /'
}

# The table NCCL takes from ours: its newest known (docs/nccl.md).
table_for() {   # NCCL version code, e.g. 22809
	local v=$1
	if [ "$v" -ge 23000 ]; then echo v12
	elif [ "$v" -ge 22800 ]; then echo v11
	elif [ "$v" -ge 22600 ]; then echo v10
	elif [ "$v" -ge 22400 ]; then echo v9
	else echo v8; fi
}

nccl_code_of_header() {   # nccl.h → 22809
	awk '/#define NCCL_MAJOR/{ma=$3} /#define NCCL_MINOR/{mi=$3} /#define NCCL_PATCH/{pa=$3}
	     END{if (ma) printf "%d\n", ma*10000 + mi*100 + pa}' "$1" 2>/dev/null
}

info() {
	echo "date: $(date -u)"; echo "host: $(uname -a)"
	timeout 20 nvidia-smi || echo "nvidia-smi: not available"
	echo "CUDA toolkit: $(readlink -f "${CUDA_HOME:-/usr/local/cuda}")"
	echo "toolkit NCCL: $(nccl_code_of_header "${CUDA_HOME:-/usr/local/cuda}/include/nccl.h")"
	timeout 20 python3 - <<'PY' || echo "torch: not importable"
import importlib, os
try:
    import torch
    print("torch", torch.__version__, "cuda", torch.version.cuda, "gpu", torch.cuda.is_available())
    print("torch NCCL", ".".join(map(str, torch.cuda.nccl.version())))
except Exception as e:
    print("torch:", e)
try:
    m = importlib.import_module("nvidia.nccl")
    print("torch NCCL lib", os.path.join(list(m.__path__)[0], "lib"))
except Exception as e:
    print("nvidia.nccl:", e)
PY
	for f in libnccl-net-spark.so test/nccl/nccl_check softroce/libibverbs.so.1 softroce/softroce-run; do
		[ -e "$build/$f" ] && echo "built: $f" || echo "MISSING: $build/$f"
	done
}

step info 30 info
cuda_nccl=$(nccl_code_of_header "${CUDA_HOME:-/usr/local/cuda}/include/nccl.h")
cuda_table=$(table_for "${cuda_nccl:-0}")
torch_lib=$(timeout 20 python3 -c 'import nvidia.nccl as m, os; print(os.path.join(list(m.__path__)[0], "lib"))' 2>/dev/null || true)
torch_code=$(timeout 20 python3 -c 'import torch; a,b,c = torch.cuda.nccl.version()[:3]; print(a*10000+b*100+c)' 2>/dev/null || true)

cn=("$root/scripts/compare-nccl" --emulated --outdir "$out/compare" -b 8 -e 64M -f 4)
step ours 90 "${cn[@]}" --only spark --expect-table "$cuda_table" --timeout 85 --no-plot
if [ -n "$torch_lib" ] && [ -e "$torch_lib/libnccl.so.2" ]; then
	step ours-torch 50 env LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
		"$build/test/nccl/nccl_check" -e 16M -f 8 --logdir "$out/ours-torch" --timeout 45 \
		--expect-table "$(table_for "${torch_code:-0}")"
else
	step ours-torch 5 sh -c 'echo "SKIP: no torch NCCL (nvidia.nccl) found"; exit 77'
fi
for base in one-hca both-hcas force-merge; do
	step "$base" 55 "${cn[@]}" --only "$base" --timeout 50 --no-plot
done
step torch 80 python3 "$root/test/nccl/torch_check.py" --plugin "$build/libnccl-net-spark.so" \
	--logdir "$out/torch" --timeout 35
step compare 20 "$root/scripts/compare-nccl" --parse "$out/compare" --outdir "$out/compare"

{
	echo
	echo "gpu-check: $failures failing step(s), $((SECONDS - start_all)) s in all"
	echo "busbw ratios (ours / baseline, emulated links; only ratios mean anything):"
	grep -E '^(all_reduce|all_gather|reduce_scatter|broadcast|sendrecv) |^ +64M|^ +size' \
		"$out/compare.log" 2>/dev/null || echo "(no comparison table)"
} | tee -a "$summary"
[ "$failures" -eq 0 ]
