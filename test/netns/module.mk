# Two emulated Sparks as two network namespaces (check-netns.sh): nn-xfer is
# one host of a two-host transfer through the plugin's v8 table, a process of
# its own so that each host can run in its own namespace (ip netns exec).
NN_XFER := $(BUILD)/test/netns/nn-xfer

$(BUILD)/obj/test/netns/%.o: EXTRA_CFLAGS += -Iinclude -Itest/datapath

$(NN_XFER): $(BUILD)/obj/test/netns/nn_xfer.o $(BUILD)/obj/test/netns/nn_fifos.o $(DP_HARNESS_OBJ) $(PLUGIN_SO) $(BUILD)/softroce/libibverbs.so.1
	@mkdir -p $(@D)
	$(CC) -o $@ $(filter %.o,$^) $(LDFLAGS_BASE) -ldl

TEST_DEPS    += $(NN_XFER)
TEST_SCRIPTS += test/netns/check-netns.sh

# nn-vanish: the hosts of check-vanish.sh (a peer host gone without a FIN).
NN_VANISH := $(BUILD)/test/netns/nn-vanish
NN_FIFOS_OBJ := $(BUILD)/obj/test/netns/nn_fifos.o

$(NN_VANISH): $(BUILD)/obj/test/netns/nn_vanish.o $(NN_FIFOS_OBJ) $(DP_HARNESS_OBJ) $(PLUGIN_SO) $(BUILD)/softroce/libibverbs.so.1
	@mkdir -p $(@D)
	$(CC) -o $@ $(filter %.o,$^) $(LDFLAGS_BASE) -ldl

TEST_DEPS    += $(NN_VANISH)
TEST_SCRIPTS += test/netns/check-vanish.sh
