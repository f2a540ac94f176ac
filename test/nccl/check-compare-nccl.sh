#!/usr/bin/env bash
# scripts/compare-nccl's parser and command lines, on the sample outputs in
# test/nccl/samples (written for this test in nccl-tests' and nccl_check's
# layouts; the figures are invented): the table and ratios come out exactly,
# wrong or unchecked results and a run that did not go through our plugin
# are problems (exit 1), and --dry-run prints the commands it would run.
set -uo pipefail
cn=scripts/compare-nccl
s=test/nccl/samples
fail() { echo "check-compare-nccl: $*"; exit 1; }
expect_line() {   # OUTPUT LINE
	grep -qxF -- "$2" <<<"$1" || { echo "$1"; fail "missing line: '$2'"; }
}

out=$($cn --parse $s/real --no-plot) || { echo "$out"; fail "clean samples gave problems"; }
expect_line "$out" "all_reduce (float): busbw GB/s, out-of-place; higher is better"
expect_line "$out" "    size     one-hca   both-hcas       spark       spark/one-hca     spark/both-hcas"
expect_line "$out" "    128M       11.50       21.00       22.80               1.98x               1.09x"
expect_line "$out" "      2M        9.10       13.81       15.65               1.72x               1.13x"
expect_line "$out" "# compare-nccl: all results correct (one-hca, both-hcas, spark)"
[ "$(grep -c '^all_' <<<"$out")" = 2 ] || fail "want one table per test"

if out=$($cn --parse $s/bad --no-plot); then echo "$out"; fail "bad samples passed"; fi
expect_line "$out" "PROBLEM: spark: all_reduce float 2097152 B: 3/3 wrong elements"
expect_line "$out" "PROBLEM: one-hca: all_gather float: results not checked (#wrong N/A): run nccl-tests with -c 1"
expect_line "$out" "PROBLEM: spark all_gather_perf: NCCL's log lacks 'via NET/Spark/'"

out=$($cn --parse $s/emulated --no-plot) || { echo "$out"; fail "emulated samples gave problems"; }
expect_line "$out" "reduce_scatter (float): busbw GB/s, out-of-place; higher is better"
expect_line "$out" "     64M        3.08        1.60        2.69        2.89               1.93x               1.14x               1.07x"
[ "$(grep -c 'busbw GB/s' <<<"$out")" = 6 ] || fail "want six nccl_check tables"

out=$($cn --dry-run --hosts spark-a,spark-b --tests /opt/nccl-tests/build --outdir /tmp/cn) || fail "dry run"
[ "$(grep -c '^mpirun ' <<<"$out")" = 6 ] || { echo "$out"; fail "want 3 configs x 2 tests"; }
expect_line "$out" "mpirun -np 2 -H spark-a:1,spark-b:1 --mca plm_rsh_agent 'ssh -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no' -x LD_LIBRARY_PATH -x NCCL_NET=Spark -x NCCL_DEBUG=INFO -x NCCL_DEBUG_SUBSYS=INIT,NET,ENV -x NCCL_NET_PLUGIN=spark /opt/nccl-tests/build/all_gather_perf -b 8 -e 4G -f 2 -g 1 -c 1 > /tmp/cn/spark.all_gather_perf.log 2>&1"
[ ! -e /tmp/cn ] || fail "--dry-run created its output directory"

out=$($cn --dry-run --emulated --outdir /tmp/cn) || fail "emulated dry run"
[ "$(grep -c 'nccl_check ' <<<"$out")" = 4 ] || { echo "$out"; fail "want ours + 3 baselines"; }
grep -q "^NCCL_IB_HCA=rocep1s0f0,roceP2p1s0f0 NCCL_NET_FORCE_MERGE=rocep1s0f0,roceP2p1s0f0 .*--net IB .*softroce-run -H {host} --" <<<"$out" \
	|| { echo "$out"; fail "force-merge baseline command"; }
if $cn --hosts only-one --dry-run >/dev/null 2>&1; then fail "accepted one host"; fi
echo "compare-nccl: parser and commands as expected"
