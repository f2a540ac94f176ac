# softroce conformance suite: Criterion tests of the strictness rules, the
# cable semantics, faults and the default topology, written against the public
# verbs API only.
#
# The binary is linked against the real libibverbs (-libverbs) and finds
# softroce's build/softroce/libibverbs.so.1 through a DT_RPATH of
# $ORIGIN/../softroce (--disable-new-dtags: DT_RPATH is searched before
# LD_LIBRARY_PATH, DT_RUNPATH would come after it), so scripts/run-tests.sh can
# run it as is and a stray LD_LIBRARY_PATH cannot swap the system library in.
# t_topology.c asserts that the loaded library really is softroce's.

SRT_DIR  := test/softroce/tests
SRT_SRCS := $(wildcard $(SRT_DIR)/*.c)
SRT_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(SRT_SRCS))
SRT_BIN  := $(BUILD)/tests/softroce-conformance

$(SRT_BIN): $(SRT_OBJS) | $(filter %/libibverbs.so.1,$(ALL_TARGETS))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_BASE) -o $@ $(SRT_OBJS) \
		-Wl,--disable-new-dtags -Wl,-rpath,'$$ORIGIN/../softroce' \
		-lcriterion -libverbs

TEST_BINS += $(SRT_BIN)
