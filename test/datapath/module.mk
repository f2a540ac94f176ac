# Data-path integration tests: two emulated Sparks (softroce hosts a and b),
# the plugin loaded with dlopen and driven through ncclNetPlugin_v8.
DP_HARNESS_OBJ := $(BUILD)/obj/test/datapath/dp_harness.o
DP_TEST_SRCS := $(wildcard test/datapath/test_*.c)
DP_TEST_BINS := $(DP_TEST_SRCS:test/datapath/%.c=$(BUILD)/test/datapath/%)

$(BUILD)/obj/test/datapath/%.o: EXTRA_CFLAGS += -Iinclude

# Host b finds its test body by name (dp_harness.c): Criterion's
# <category>_<name>_impl functions go into the dynamic symbol table, nothing
# else (the plugin, loaded RTLD_LOCAL, must not bind to the copies of
# wire.o and hca_spec.o linked in here).
DP_EXPORT_TESTS := -Wl,--export-dynamic-symbol='*_impl'

$(BUILD)/test/datapath/%: $(BUILD)/obj/test/datapath/%.o $(DP_HARNESS_OBJ) \
		$(BUILD)/obj/plugin/common/wire.o $(BUILD)/obj/plugin/discovery/hca_spec.o $(PLUGIN_SO) $(SR_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $(filter %.o,$^) $(LDFLAGS_BASE) $(DP_EXPORT_TESTS) -lcriterion -ldl

TEST_BINS += $(DP_TEST_BINS)
.PRECIOUS: $(BUILD)/obj/test/datapath/%.o

# hot: dp_harness.c reads a comm's control-area pointer (comm.h).
$(DP_HARNESS_OBJ): EXTRA_CFLAGS += $(PLUGIN_INC)
