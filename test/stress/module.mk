# The randomized stress and fault suite (test/stress/test_stress.c): two
# emulated Sparks through ncclNetPlugin_v8, on test/datapath's harness.
# Host b finds its test body by name, as in test/datapath/module.mk.
STRESS_SRCS := test/stress/plan.c test/stress/traffic.c test/stress/faults.c \
	test/stress/leaks.c test/stress/fatal.c test/stress/run.c test/stress/test_stress.c
STRESS_OBJS := $(STRESS_SRCS:%.c=$(BUILD)/obj/%.o)
STRESS_BIN := $(BUILD)/test/stress/test_stress

# ST_SAN: the sanitizer of this build, so the suite scales itself down there.
$(STRESS_OBJS): EXTRA_CFLAGS += -Iinclude -Itest/datapath $(PLUGIN_INC) -DST_SAN='"$(SAN)"'

$(STRESS_BIN): $(STRESS_OBJS) $(DP_HARNESS_OBJ) $(PLUGIN_SO) $(SR_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $(filter %.o,$^) $(LDFLAGS_BASE) $(DP_EXPORT_TESTS) -lcriterion -ldl

TEST_BINS += $(STRESS_BIN)

# `make memcheck` (mk/stress.mk): the same traffic from a plain program.
STRESS_MEMCHECK := $(BUILD)/test/stress/stress_memcheck
STRESS_LIB_OBJS := $(filter-out %/test_stress.o,$(STRESS_OBJS))
$(BUILD)/obj/test/stress/memcheck.o: EXTRA_CFLAGS += -Iinclude -Itest/datapath $(PLUGIN_INC) -DST_SAN='"$(SAN)"'
$(STRESS_MEMCHECK): $(STRESS_LIB_OBJS) $(BUILD)/obj/test/stress/memcheck.o $(DP_HARNESS_OBJ) $(PLUGIN_SO) $(SR_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $(filter %.o,$^) $(LDFLAGS_BASE) -ldl
TEST_DEPS += $(STRESS_MEMCHECK)
