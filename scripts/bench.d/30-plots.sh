#!/usr/bin/env bash
# Plots of $BUILD/bench/results.csv (written by 20-plugin.sh) with gnuplot:
#   bandwidth.png  GB/s against message size, one panel per in-flight depth and
#                  comm count: ours, stock (both HCAs), one HCA; min-max bars;
#                  the measured link and cable caps as dashed lines
#   latency.png    ping-pong round trip against message size: ours, one HCA
set -euo pipefail
BUILD=${BUILD:-build}
dir=$BUILD/bench
csv=$dir/results.csv
[ -s "$csv" ] || { echo "plots: no $csv (run 20-plugin.sh first)" >&2; exit 1; }
if ! command -v gnuplot >/dev/null; then
	echo "plots: gnuplot not installed (scripts/install-deps.sh installs gnuplot-nox): no PNGs"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# One data file per series: size median min max.
awk -F, -v d="$tmp" 'NR > 1 {
	if ($1 == "uni") f = d "/uni-" $2 "-" $4 "-" $5 ".dat"
	else if ($1 == "pingpong") f = d "/lat-" $2 ".dat"
	else if ($1 == "raw") { print $7 > (d "/cap-" $2); next }
	else next
	print $3, $7, $8, $9 > f
}' "$csv"
cap() { [ -s "$tmp/cap-$1" ] && printf '%.3f' "$(cat "$tmp/cap-$1")" || echo NaN; }
link=$(cap link) cable=$(cap cable)
wins=$(awk -F, 'NR > 1 && $1 == "uni" {print $4}' "$csv" | sort -nu | tr '\n' ' ')
comms=$(awk -F, 'NR > 1 && $1 == "uni" {print $5}' "$csv" | sort -nu | tr '\n' ' ')
nw=$(echo $wins | wc -w) nc=$(echo $comms | wc -w)

{
	echo "set terminal pngcairo size $((420 * nw)),$((340 * nc + 40)) font 'sans,9'"
	echo "set output '$dir/bandwidth.png'"
	echo "set multiplot layout $nc,$nw title 'two emulated Sparks: throughput, GB/s (higher is better); bars = min-max of the repetitions'"
	echo "set logscale x 2; set format x '%.0b%B'; set xlabel 'message size (bytes)'"
	# Room above the cable cap for the key; nothing honest reads above 1.2 x it.
	top=$(awk -v c="$cable" 'BEGIN { print (c == "NaN" || c <= 0) ? "*" : c * 1.5 }')
	echo "set ylabel 'GB/s'; set yrange [0:$top]; set grid; set key top left samplen 2"
	for c in $comms; do for w in $wins; do
		echo "set title '$w in flight per comm, $c comm$([ "$c" -gt 1 ] && echo s)'"
		echo "plot $cable w l dt 2 lc rgb 'black' t 'cable cap $cable GB/s', \\"
		echo "  $link w l dt 3 lc rgb 'gray40' t 'link cap $link GB/s', \\"
		echo "  '$tmp/uni-ours-$w-$c.dat' u 1:2:3:4 w yerrorlines lc rgb '#d62728' pt 7 t 'ours (fused)', \\"
		echo "  '$tmp/uni-stock-$w-$c.dat' u 1:2:3:4 w yerrorlines lc rgb '#1f77b4' pt 5 t 'stock, both HCAs', \\"
		echo "  '$tmp/uni-one-$w-$c.dat' u 1:2:3:4 w yerrorlines lc rgb '#2ca02c' pt 9 t 'one HCA'"
	done; done
	echo "unset multiplot"
} >"$tmp/bw.gp"
gnuplot "$tmp/bw.gp"

if [ -s "$tmp/lat-ours.dat" ]; then
	cat >"$tmp/lat.gp" <<GP
set terminal pngcairo size 640,420 font 'sans,9'
set output '$dir/latency.png'
set title 'ping-pong round trip, us (lower is better); bars = min-max of the repetitions'
set logscale x 2; set logscale y; set format x '%.0b%B'; set xlabel 'message size (bytes)'; set ylabel 'us'
set xtics 8; set offsets graph 0.05, graph 0.05, 0, 0
set grid; set key top left
plot '$tmp/lat-ours.dat' u 1:2:3:4 w yerrorlines lc rgb '#d62728' pt 7 t 'ours (fused)', \
     '$tmp/lat-one.dat' u 1:2:3:4 w yerrorlines lc rgb '#2ca02c' pt 9 t 'one HCA'
GP
	gnuplot "$tmp/lat.gp"
fi
echo "plots: $dir/bandwidth.png $dir/latency.png"
