# spark-netcheck: the pre-flight checker, linked with the plugin's own
# discovery objects (so it reports what the plugin will do) plus the socket
# picker; the probe dlopens the plugin itself. Installed beside the plugin.
NETCHECK := $(BUILD)/spark-netcheck
NETCHECK_DIR := plugin/tools/spark-netcheck
NETCHECK_SRCS := $(wildcard $(NETCHECK_DIR)/*.c)
NETCHECK_OBJS := $(NETCHECK_SRCS:%.c=$(BUILD)/obj/%.o)
NETCHECK_PLUGIN_OBJS := $(PLUGIN_PURE_OBJS) \
	$(addprefix $(BUILD)/obj/plugin/,discovery/scan.o discovery/mlx5dv.o connect/socket.o)
NETCHECK_VERSION_H := $(BUILD)/gen/netcheck_version.h

# The version header changes only when the version does (no rebuild per make).
$(NETCHECK_VERSION_H): FORCE
	@mkdir -p $(@D)
	@printf '#define NC_VERSION "%s"\n' '$(PKG_VERSION)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
.PHONY: FORCE
FORCE:

$(BUILD)/obj/$(NETCHECK_DIR)/main.o: $(NETCHECK_VERSION_H)
$(BUILD)/obj/$(NETCHECK_DIR)/main.o: EXTRA_CFLAGS += -include $(NETCHECK_VERSION_H)

$(NETCHECK): $(NETCHECK_OBJS) $(NETCHECK_PLUGIN_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_BASE) -libverbs -ldl

ALL_TARGETS += $(NETCHECK)
INSTALL_BINS += $(NETCHECK)
