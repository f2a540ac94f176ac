# The CPU-cost driver (scripts/cpucost.sh runs it under callgrind).
SPARK_CPUCOST := $(BUILD)/test/cpucost/spark_cpucost

$(BUILD)/obj/test/cpucost/%.o: EXTRA_CFLAGS += -Iinclude \
	$(if $(wildcard /usr/include/valgrind/callgrind.h),-DHAVE_CALLGRIND_H)

$(SPARK_CPUCOST): $(BUILD)/obj/test/cpucost/spark_cpucost.o $(BUILD)/obj/test/datapath/dp_harness.o
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_BASE) -ldl

ALL_TARGETS += $(SPARK_CPUCOST)
