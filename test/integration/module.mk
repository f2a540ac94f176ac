# Data-path integration tests: two emulated Sparks (softroce hosts a and b),
# the plugin loaded with dlopen and driven through ncclNetPlugin_v8.
DP_HARNESS_OBJ := $(BUILD)/obj/test/integration/dp_harness.o
DP_IT_SRCS := $(wildcard test/integration/test_*.c)
DP_IT_BINS := $(DP_IT_SRCS:test/integration/%.c=$(BUILD)/test/integration/%)

$(BUILD)/obj/test/integration/%.o: EXTRA_CFLAGS += -Iinclude

$(BUILD)/test/integration/%: $(BUILD)/obj/test/integration/%.o $(DP_HARNESS_OBJ) \
		$(PLUGIN_SO) $(SR_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $(filter %.o,$^) $(BUILD)/obj/plugin/wire.o $(BUILD)/obj/plugin/hca_filter.o \
		$(LDFLAGS_BASE) -lcriterion -ldl

TEST_BINS += $(DP_IT_BINS)
.PRECIOUS: $(BUILD)/obj/test/integration/%.o
