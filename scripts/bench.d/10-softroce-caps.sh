#!/usr/bin/env bash
# softroce link model: RDMA WRITE bandwidth between two emulated Sparks with
# softroce-perf — one rail (PCIe x4 link cap), both rails of one cable (cable
# cap), a rail degraded to half its link rate, a rail trained at Gen5 x2, and
# an x4 + x2 pair.  Each line prints the measured rate, the modelled cap and
# their ratio; the check wants 0.95–1.05. A benchmark reports: a case still
# below 95% after three attempts is printed as unreliable with the load
# average (softroce gives no credit for idle time, so a starved sender reads
# low on a busy host), and make bench goes on.
set -uo pipefail
BUILD=${BUILD:-build}
export LD_LIBRARY_PATH=$BUILD/softroce
perf=$BUILD/softroce/softroce-perf
run() {
	local label=$1; shift
	echo "--- $label"
	local out
	for attempt in 1 2 3; do          # a busy machine can starve one run
		out=$("$perf" --check "$@") && { echo "$out"; return 0; }
		echo "(attempt $attempt below 95%, retrying)"; echo "$out"
	done
	echo "UNRELIABLE: below 95% of the cap after 3 attempts (load average $(cut -d' ' -f1-3 /proc/loadavg))"
}
run "one rail (rocep1s0f0): PCIe Gen5 x4 link cap"           --rails 1
run "two rails of one cable: cable cap"                       --rails 2
run "one rail degraded to rate 0.5 (control file)"            --rails 1 --rate 0.5
run "one rail trained at PCIe Gen5 x2 (topology)"             --rails 1 --x2
run "two rails, one at Gen5 x2: x4 + x2 under the cable cap"  --rails 2 --x2
