# Real NCCL through the plugin (test/nccl/nccl_check.h): built against the
# CUDA toolkit's NCCL when there is one, run by check-nccl.sh, which counts
# as skipped without a GPU (or without the toolkit).
#
# Own flags, not CFLAGS_BASE: no sanitizer (ASan/TSan and the CUDA runtime's
# address-space reservations do not mix, and the program runs only where a
# GPU is), host architecture only (the toolkit's libraries are the host's).
CUDA_HOME ?= /usr/local/cuda
NCCL_CHECK := $(BUILD)/test/nccl/nccl_check
NCCL_CHECK_SRCS := test/nccl/nccl_check.c test/nccl/launch.c test/nccl/rank.c
NCCL_CHECK_OBJS := $(NCCL_CHECK_SRCS:%.c=$(BUILD)/obj/%.o)
# -isystem: the toolkit's headers are not ours to lint.
NCCL_CHECK_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -isystem $(CUDA_HOME)/include
# RUNPATH (not RPATH): LD_LIBRARY_PATH may put another NCCL first (torch's).
NCCL_CHECK_LDFLAGS := -L$(CUDA_HOME)/lib64 -Wl,--enable-new-dtags,-rpath,$(CUDA_HOME)/lib64 \
	-lnccl -lcudart -pthread

NCCL_CHECK_MISSING := $(strip \
	$(if $(wildcard $(CUDA_HOME)/include/nccl.h),,$(CUDA_HOME)/include/nccl.h) \
	$(if $(wildcard $(CUDA_HOME)/include/cuda_runtime.h),,$(CUDA_HOME)/include/cuda_runtime.h) \
	$(if $(wildcard $(CUDA_HOME)/lib64/libnccl.so),,$(CUDA_HOME)/lib64/libnccl.so) \
	$(if $(wildcard $(CUDA_HOME)/lib64/libcudart.so),,$(CUDA_HOME)/lib64/libcudart.so))
ifneq ($(ARCH),$(HOST_ARCH))
NCCL_CHECK_MISSING += a $(ARCH) CUDA toolkit (cross build)
endif

ifeq ($(NCCL_CHECK_MISSING),)
# More specific than the shared rule in mk/common.mk, so it wins for these.
$(BUILD)/obj/test/nccl/%.o: test/nccl/%.c test/nccl/nccl_check.h $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(NCCL_CHECK_CFLAGS) -c -o $@ $<
$(NCCL_CHECK): $(NCCL_CHECK_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(NCCL_CHECK_LDFLAGS)
ALL_TARGETS += $(NCCL_CHECK)
else
# check-nccl.sh prints this reason and counts as skipped.
$(BUILD)/test/nccl/SKIP: FORCE_NCCL_SKIP
	@mkdir -p $(@D)
	@echo "not built: missing $(NCCL_CHECK_MISSING)" > $@
.PHONY: FORCE_NCCL_SKIP
ALL_TARGETS += $(BUILD)/test/nccl/SKIP
endif

TEST_SCRIPTS += test/nccl/check-skip-counted.sh test/nccl/check-compare-nccl.sh \
	test/nccl/check-nccl.sh test/nccl/check-torch.sh test/nccl/check-gpu-check.sh
