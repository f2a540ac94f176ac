# Criterion suites for the pure plugin modules: one executable per file,
# linked with the plugin's pure objects only (no verbs, no hwloc).
UNIT_SRCS := $(wildcard test/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:test/unit/%.c=$(BUILD)/test/unit/%)

$(BUILD)/obj/test/unit/%.o: EXTRA_CFLAGS += $(PLUGIN_INC)

$(BUILD)/test/unit/%: $(BUILD)/obj/test/unit/%.o $(PLUGIN_PURE_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_BASE) -lcriterion

TEST_BINS += $(UNIT_BINS)
