# make bench is spark-bench's emulated mode (plugin/tools/spark-bench):
# scripts/bench.d/20-plugin.sh runs its --bench grid, 30-plots.sh draws it.
# Its two-host mode is tested here: a --server and a client started as two
# separate commands on one softroce fabric.
TEST_SCRIPTS += test/bench/check-two-hosts.sh
