# The plugin: build/libnccl-net-spark.so, exporting ncclNetPlugin_v7 and
# _v8 ... _v12 (NCCL takes the newest it knows) and nothing else.
# NCCL_NET_PLUGIN=spark finds it by NCCL's naming rule (libnccl-net-<name>.so).
#
# One folder per layer, each using only the layers listed before it:
#   common/     logging + error idiom, the NCCL_SPARK_* table, wire formats
#   discovery/  HCAs from verbs + sysfs, GID choice, pairing into logical devices
#   connect/    bootstrap sockets, listen/connect/accept, rails (QPs), comms
#   datapath/   send side, receive side, the CQ engine below both, requests,
#               registration, scheduling arithmetic and weights (those two pure)
#   abi/        what NCCL sees: the exported tables, init, properties

PLUGIN_SO := $(BUILD)/libnccl-net-spark.so
PLUGIN_DIRS := plugin/common plugin/discovery plugin/connect plugin/datapath plugin/abi
PLUGIN_INC := -Iinclude $(addprefix -I,$(PLUGIN_DIRS))

# Logic with no verbs, sysfs-free: unit-tested on its own (test/unit).
PLUGIN_PURE_SRCS := plugin/common/log.c plugin/common/param.c plugin/common/wire.c plugin/common/ctl.c plugin/common/ctl_rx.c \
	plugin/discovery/pci.c plugin/discovery/gid.c plugin/discovery/hca_spec.c \
	plugin/discovery/pairs_spec.c plugin/discovery/hca.c plugin/discovery/pairing.c \
	plugin/discovery/sysfs.c plugin/discovery/hexfields.c \
	plugin/abi/props.c plugin/datapath/stripe.c plugin/datapath/weights.c \
	plugin/datapath/handle_check.c plugin/connect/rail_match.c
PLUGIN_SYS_SRCS := plugin/discovery/scan.c plugin/discovery/mlx5dv.c \
	plugin/abi/init.c plugin/abi/context.c plugin/abi/adapt.c \
	plugin/abi/net_v7.c plugin/abi/net_v8.c plugin/abi/net_v9.c plugin/abi/net_v10.c \
	plugin/abi/net_v11.c plugin/abi/net_v12.c plugin/abi/net_ctx.c \
	plugin/connect/socket.c plugin/connect/pending.c plugin/connect/devctx.c plugin/connect/rail.c \
	plugin/connect/comm.c plugin/connect/connect.c plugin/connect/ctl_send.c plugin/connect/heartbeat.c \
	plugin/datapath/mr.c plugin/datapath/engine.c plugin/datapath/send.c \
	plugin/datapath/recv.c plugin/datapath/request.c plugin/datapath/peer.c \
	plugin/datapath/failback.c
PLUGIN_PURE_OBJS := $(PLUGIN_PURE_SRCS:%.c=$(BUILD)/obj/%.o)
PLUGIN_OBJS := $(PLUGIN_PURE_OBJS) $(PLUGIN_SYS_SRCS:%.c=$(BUILD)/obj/%.o)

$(BUILD)/obj/plugin/%.o: EXTRA_CFLAGS += $(PLUGIN_INC) -fvisibility=hidden

$(PLUGIN_SO): $(PLUGIN_OBJS)
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $^ $(LDFLAGS_BASE) -Wl,--no-undefined -Wl,-z,defs \
		-libverbs -ldl

ALL_TARGETS += $(PLUGIN_SO)
BENCH_DEPS += $(PLUGIN_SO)
