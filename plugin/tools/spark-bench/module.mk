# spark-bench: the plugin's fused device against NCCL's IB protocol (raw
# verbs), on two Sparks or two emulated hosts. Installed next to the plugin
# (mk/install.mk's INSTALL_BINS). Drives the plugin only through its exported
# ncclNetPlugin_v8 table (dlopen); links the system libibverbs, which the
# emulated mode swaps for softroce's by LD_LIBRARY_PATH.
SPARK_BENCH := $(BUILD)/spark-bench
SPARK_BENCH_SRCS := $(wildcard plugin/tools/spark-bench/*.c)
SPARK_BENCH_OBJS := $(SPARK_BENCH_SRCS:%.c=$(BUILD)/obj/%.o)

$(BUILD)/obj/plugin/tools/spark-bench/%.o: EXTRA_CFLAGS += -Iinclude

$(SPARK_BENCH): $(SPARK_BENCH_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_BASE) -libverbs -ldl -lm

ALL_TARGETS += $(SPARK_BENCH)
BENCH_DEPS += $(SPARK_BENCH)
INSTALL_BINS += $(SPARK_BENCH)
