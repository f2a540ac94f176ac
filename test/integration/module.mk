# NCCL-style loader test over softroce, and the export check.
INTEG_LOADER := $(BUILD)/test/integration/test_loader

$(BUILD)/obj/test/integration/%.o: EXTRA_CFLAGS += -Iinclude -DSPARK_BUILD_DIR='"$(abspath $(BUILD))"'

# Links no verbs: the plugin and softroce are dlopened at run time.
$(INTEG_LOADER): $(BUILD)/obj/test/integration/test_loader.o | $(PLUGIN_SO) $(SR_LIB) $(SR_MLX5)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_BASE) -lcriterion -ldl

TEST_BINS += $(INTEG_LOADER)
TEST_SCRIPTS += test/integration/check-exports.sh
