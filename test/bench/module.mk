# The plugin bench (scripts/bench.d/20-plugin.sh): two emulated Sparks,
# ratios measured in one run.
SPARK_BENCH := $(BUILD)/test/bench/spark_bench

$(BUILD)/obj/test/bench/%.o: EXTRA_CFLAGS += -Iinclude

$(SPARK_BENCH): $(BUILD)/obj/test/bench/spark_bench.o $(BUILD)/obj/test/datapath/dp_harness.o
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_BASE) -ldl -lm

ALL_TARGETS += $(SPARK_BENCH)
BENCH_DEPS += $(SPARK_BENCH) $(PLUGIN_SO) $(SR_LIB)
