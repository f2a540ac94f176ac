# libnccl-net-spark: top-level build.
#
# Each component keeps its own rules in a fragment (mk/*.mk, */module.mk) and
# registers what it builds in the lists below, so the components can grow
# independently without editing this file.
#
#   make            build the plugin, softroce and the tools
#   make test       build and run every test (Criterion suites + scripted checks)
#   make bench      two emulated Sparks: the plugin against stock-style baselines
#   make clean      remove build outputs
#   V=1             show every command (compiler lines included)

CC      ?= cc
OPT     ?= -O2
SAN     ?=
V       ?= 0
# Variants (ARCH=aarch64, SAN=asan|tsan, CC=clang) choose their BUILD dir and flags.
include mk/variants.mk
BUILD   ?= build
# --build-id: the .deb's debug symbols are found by it (scripts/mkdeb.sh).
CFLAGS_BASE := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -fPIC -pthread $(VARIANT_CFLAGS)
LDFLAGS_BASE := -pthread -Wl,--build-id $(VARIANT_LDFLAGS)

# Quiet by default: one line per phase (printed by the targets below and by
# the scripts they run), no recipe echo and no "Entering directory" lines.
# Compiler diagnostics and make's own error lines still show. V=1 brings back
# every command; sub-makes see V through MAKEFLAGS and parse this file too.
ifneq ($(V),1)
MAKEFLAGS += --no-print-directory
.SILENT:
endif

# Lists that the fragments append to.
ALL_TARGETS :=        # everything `make all` builds
TEST_BINS   :=        # Criterion test executables, run by scripts/run-tests.sh
TEST_SCRIPTS :=       # shell checks (exit 0 = pass), run after the binaries
TEST_DEPS   :=        # other files `make test` needs built (not run)
BENCH_DEPS  :=        # what `make bench` needs built

.PHONY: all test bench clean deps deps-ok compile-all compile-test compile-bench
# Keep intermediate objects: no rebuilds, and no "rm" lines after the summary.
.SECONDARY:

# The user-facing targets run their phases in order, each one a sub-make, so
# the phase lines come out in order under -j too: dependencies (install what
# is missing), build, then run.
all:
	$(MAKE) deps-ok
	echo "building $(BUILD)/ ($(CC)$(if $(SAN), SAN=$(SAN)); V=1 shows the commands)"
	$(MAKE) compile-all
	echo "built $(BUILD)/libnccl-net-spark.so"

test:
	$(MAKE) deps-ok
	echo "building $(BUILD)/ and the tests ($(CC)$(if $(SAN), SAN=$(SAN)); V=1 shows the commands)"
	$(MAKE) compile-test
	echo "testing: $(words $(TEST_BINS)) suites, $(words $(TEST_SCRIPTS)) scripted checks"
	BUILD=$(BUILD) V=$(V) $(TEST_WRAPPER) scripts/run-tests.sh $(TEST_BINS) -- $(TEST_SCRIPTS)

bench:
	$(MAKE) deps-ok
	echo "building $(BUILD)/ and the bench ($(CC); V=1 shows the commands)"
	$(MAKE) compile-bench
	echo "benchmarking: two emulated Sparks on softroce (figures are ratios, see docs/benchmarking.md)"
	BUILD=$(BUILD) scripts/bench.sh

DEPS_STAMP := $(BUILD)/.deps-ok
deps-ok: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/check-deps.sh scripts/install-deps.sh
	BUILD=$(BUILD) scripts/check-deps.sh --install $(DEPS_FLAGS)
	mkdir -p $(@D) && touch $@
deps: $(DEPS_STAMP)

include mk/*.mk
# Every component directory with a module.mk contributes its rules.
include $(sort $(wildcard */module.mk */*/module.mk */*/*/module.mk))

compile-all: $(ALL_TARGETS)
compile-test: $(ALL_TARGETS) $(TEST_BINS) $(TEST_DEPS)
compile-bench: $(ALL_TARGETS) $(BENCH_DEPS)

clean:
	rm -rf $(BUILD) build-*
