# NCCL-style loader tests over softroce, the export check and the NEEDED check.
#   test_loader  one process: init, devices, properties through ncclNetPlugin_v8
#   test_abi     two emulated Sparks (test/datapath's dp_harness): each table
#                v7, v9 ... v12 driven as the NCCL release that picks it does
INTEG_LOADER := $(BUILD)/test/integration/test_loader
INTEG_ABI := $(BUILD)/test/integration/test_abi
INTEG_ABI_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard test/integration/test_abi_*.c)) \
	$(BUILD)/obj/test/integration/abi_drive.o

$(BUILD)/obj/test/integration/%.o: EXTRA_CFLAGS += -Iinclude -DSPARK_BUILD_DIR='"$(abspath $(BUILD))"'

# Links no verbs: the plugin and softroce are dlopened at run time.
$(INTEG_LOADER): $(BUILD)/obj/test/integration/test_loader.o | $(PLUGIN_SO) $(SR_LIB) $(SR_MLX5)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_BASE) -lcriterion -ldl

# As test/datapath: host b finds its test body among the exported *_impl.
$(INTEG_ABI): $(INTEG_ABI_OBJS) $(DP_HARNESS_OBJ) $(BUILD)/obj/plugin/common/wire.o \
		$(BUILD)/obj/plugin/discovery/hca_spec.o | $(PLUGIN_SO) $(SR_LIB) $(SR_MLX5)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_BASE) $(DP_EXPORT_TESTS) -lcriterion -ldl

TEST_BINS += $(INTEG_LOADER) $(INTEG_ABI)
TEST_SCRIPTS += test/integration/check-exports.sh test/integration/check-needed.sh
QEMU_TEST_SCRIPTS += test/integration/check-needed.sh
