# spark-netcheck's tests: every finding triggered by a softroce topology,
# fault or environment (check-netcheck.sh), with a foreign plugin to shadow ours.
NETCHECK_FAKE := $(BUILD)/test/netcheck/fake/libnccl-net.so

$(BUILD)/obj/test/netcheck/%.o: EXTRA_CFLAGS += -Iinclude

$(NETCHECK_FAKE): $(BUILD)/obj/test/netcheck/fake_plugin.o
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $^ $(LDFLAGS_BASE)

ALL_TARGETS += $(NETCHECK_FAKE)
TEST_SCRIPTS += test/netcheck/check-netcheck.sh
