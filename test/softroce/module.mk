# softroce: the emulated ConnectX-7 fabric (a drop-in libibverbs.so.1), its
# libmlx5.so.1 stub, the perftest-like tool and the scripted checks.
SR_DIR    := test/softroce
SR_OUT    := $(BUILD)/softroce
SR_SRCS   := $(filter-out $(SR_DIR)/mlx5dv.c,$(wildcard $(SR_DIR)/*.c))
SR_OBJS   := $(patsubst %.c,$(BUILD)/obj/%.o,$(SR_SRCS))
SR_LIB    := $(SR_OUT)/libibverbs.so.1
SR_MLX5   := $(SR_OUT)/libmlx5.so.1
SR_PERF   := $(SR_OUT)/softroce-perf

SR_PERF_SRCS := $(wildcard $(SR_DIR)/perf/*.c)
SR_PERF_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(SR_PERF_SRCS))

# softroce-run: a program as one emulated host, the emulated sysfs at /sys/class.
SR_RUN      := $(SR_OUT)/softroce-run
SR_RUN_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard $(SR_DIR)/run/*.c))

# Only softroce's own objects (tests below test/softroce/ bring their own flags).
$(SR_OBJS) $(BUILD)/obj/$(SR_DIR)/mlx5dv.o $(SR_PERF_OBJS) $(SR_RUN_OBJS): EXTRA_CFLAGS += -fvisibility=hidden -D_GNU_SOURCE

$(SR_LIB): $(SR_OBJS) $(SR_DIR)/libibverbs.map
	@mkdir -p $(@D)
	$(CC) -shared $(LDFLAGS_BASE) -Wl,-soname,libibverbs.so.1 \
		-Wl,--version-script=$(SR_DIR)/libibverbs.map -Wl,--no-undefined \
		-o $@ $(SR_OBJS)

$(SR_MLX5): $(BUILD)/obj/$(SR_DIR)/mlx5dv.o $(SR_DIR)/libmlx5.map
	@mkdir -p $(@D)
	$(CC) -shared $(LDFLAGS_BASE) -Wl,-soname,libmlx5.so.1 \
		-Wl,--version-script=$(SR_DIR)/libmlx5.map -o $@ $<

$(SR_PERF): $(SR_PERF_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ -libverbs

# Linked to softroce's own library, found beside it ($ORIGIN, searched first).
$(SR_RUN): $(SR_RUN_OBJS) $(SR_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_BASE) -o $@ $(SR_RUN_OBJS) -Wl,--disable-new-dtags \
		-Wl,-rpath,'$$ORIGIN' -L$(SR_OUT) -l:libibverbs.so.1

ALL_TARGETS  += $(SR_LIB) $(SR_MLX5) $(SR_RUN) $(if $(SR_PERF_SRCS),$(SR_PERF))
TEST_SCRIPTS += $(SR_DIR)/check-devinfo.sh $(SR_DIR)/check-pingpong.sh $(SR_DIR)/check-abi.sh \
		$(SR_DIR)/check-run.sh $(SR_DIR)/check-perftest.sh $(SR_DIR)/check-pyverbs.sh
BENCH_DEPS   += $(SR_LIB) $(if $(SR_PERF_SRCS),$(SR_PERF))
