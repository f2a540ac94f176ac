# The plugin: build/libnccl-net-spark.so, exporting ncclNetPlugin_v8 only.
# NCCL_NET_PLUGIN=spark finds it by NCCL's naming rule (libnccl-net-<name>.so).

PLUGIN_SO := $(BUILD)/libnccl-net-spark.so

# Logic with no verbs, sysfs-free: unit-tested on its own (test/unit).
PLUGIN_PURE_SRCS := plugin/log.c plugin/pci.c plugin/gid.c plugin/hca_filter.c \
	plugin/pairs.c plugin/param.c plugin/hca.c plugin/pairing.c plugin/props.c \
	plugin/sysfs.c plugin/hexfields.c plugin/stripe.c plugin/wire.c plugin/weights.c
PLUGIN_SYS_SRCS := plugin/discover.c plugin/mlx5dv.c plugin/plugin.c \
	plugin/abi_v8.c plugin/socket.c plugin/rail.c plugin/comm.c plugin/connect.c \
	plugin/mr.c plugin/engine.c plugin/p2p.c plugin/peer.c plugin/failover.c
PLUGIN_PURE_OBJS := $(PLUGIN_PURE_SRCS:%.c=$(BUILD)/obj/%.o)
PLUGIN_OBJS := $(PLUGIN_PURE_OBJS) $(PLUGIN_SYS_SRCS:%.c=$(BUILD)/obj/%.o)

$(BUILD)/obj/plugin/%.o: EXTRA_CFLAGS += -Iinclude -Iplugin -fvisibility=hidden

$(PLUGIN_SO): $(PLUGIN_OBJS)
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $^ $(LDFLAGS_BASE) -Wl,--no-undefined -Wl,-z,defs \
		-libverbs -lhwloc -ldl

ALL_TARGETS += $(PLUGIN_SO)
BENCH_DEPS += $(PLUGIN_SO)
