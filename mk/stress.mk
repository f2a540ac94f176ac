# Long runs of the stress and fault suite (test/stress), not part of `make test`:
#
#   make soak        10^6 messages, NCCL's size mix (up to 64 MiB), 3 comms each
#                    way, the default faults; one "stress figures:" line per test
#   make memcheck    one small stress cycle under valgrind's memcheck, clean or it
#                    fails (both hosts; leaks included)
#
# Knobs: SOAK_MSGS, SOAK_MIX (nccl|ci|slow), SOAK_COMMS, SOAK_FAULTS
# (default|all|live|failback|none), SOAK_SEED (replay); docs/building.md.
SOAK_MSGS ?= 1000000
SOAK_MIX ?= nccl
SOAK_COMMS ?= 3
SOAK_FAULTS ?= default
SOAK_SEED ?=
MEMCHECK_SUPP := test/stress/memcheck.supp
MEMCHECK_FLAGS := --tool=memcheck --error-exitcode=1 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect --track-fds=no \
	--suppressions=$(MEMCHECK_SUPP)

.PHONY: soak memcheck
soak:
	$(MAKE) deps-ok
	echo "building $(BUILD)/ and the stress suite ($(CC)$(if $(SAN), SAN=$(SAN)))"
	$(MAKE) compile-all $(STRESS_BIN)
	echo "soak: $(SOAK_MSGS) messages, mix $(SOAK_MIX), $(SOAK_COMMS) comms each way, faults $(SOAK_FAULTS)"
	ulimit -c 0; SPARK_STRESS_MSGS=$(SOAK_MSGS) SPARK_STRESS_MIX=$(SOAK_MIX) \
		SPARK_STRESS_COMMS=$(SOAK_COMMS) SPARK_STRESS_FAULTS=$(SOAK_FAULTS) \
		$(if $(SOAK_SEED),SPARK_STRESS_SEED=$(SOAK_SEED)) \
		$(STRESS_BIN) --jobs=1 --verbose=0

memcheck:
	$(if $(SAN),$(error make memcheck: valgrind needs a build without SAN=$(SAN)))
	$(MAKE) deps-ok
	echo "building $(BUILD)/ and the memcheck driver ($(CC))"
	$(MAKE) compile-all $(STRESS_MEMCHECK)
	echo "memcheck: one stress cycle under valgrind (both hosts)"
	SPARK_STRESS_SLOW=valgrind valgrind $(MEMCHECK_FLAGS) -q $(STRESS_MEMCHECK)
	echo "memcheck: clean"
