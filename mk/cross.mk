# aarch64 (DGX Spark) cross build and its tests under qemu-user.
#
#   make cross-aarch64   build everything (plugin, softroce, tools, tests) -> build-aarch64/
#   make test-aarch64    ... and run the qemu-safe subset under qemu-aarch64
#
# Under binfmt_misc the aarch64 test binaries run as if native (Criterion
# re-executes itself per test, which needs that; scripts/qemu-binfmt.sh).
# Modules say what runs under qemu:
#   QEMU_SKIP_BINS     Criterion binaries (from TEST_BINS) not to run under qemu
#   QEMU_TEST_SCRIPTS  scripted checks that do run there (they get the aarch64
#                      BUILD dir; e.g. the emulated two-host transfer)
# Every other TEST_BINS entry runs. Scripts are opt-in because many drive host
# tools (ibv_devinfo, python3) that cannot load aarch64 libraries.
QEMU_SKIP_BINS :=
QEMU_TEST_SCRIPTS :=

.PHONY: cross-aarch64 test-aarch64 qemu-test
cross-aarch64:
	@$(MAKE) --no-print-directory ARCH=aarch64 build-tests

test-aarch64:
	@$(MAKE) --no-print-directory ARCH=aarch64 qemu-test

# Run in the ARCH=aarch64 make: the lists are those of the aarch64 build.
# SPARK_TEST_QEMU=1 tells tests they run emulated (smaller sizes, softroce
# settings that qemu-user supports; test/datapath/dp_harness.c).
# SOFTROCE_TIMEOUT_FLOOR_MS=250: at qemu's 10-20x slowdown ACKs often take
# longer than softroce's native 20 ms floor, and each late ACK would cost a
# resend of the whole window (docs/softroce.md, Timeouts).
qemu-test: build-tests
	@scripts/check-deps.sh --install $(DEPS_FLAGS)
	@ulimit -c 0; BUILD=$(BUILD) QEMU_LD_PREFIX=$(QEMU_LD_PREFIX) SPARK_TEST_QEMU=1 \
		SOFTROCE_TIMEOUT_FLOOR_MS=250 \
		scripts/run-tests.sh \
		$(filter-out $(QEMU_SKIP_BINS),$(TEST_BINS)) -- $(QEMU_TEST_SCRIPTS)
