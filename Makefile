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

CC      ?= cc
OPT     ?= -O2
SAN     ?=
# Variants (ARCH=aarch64, SAN=asan|tsan, CC=clang) choose their BUILD dir and flags.
include mk/variants.mk
BUILD   ?= build
CFLAGS_BASE := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -fPIC -pthread $(VARIANT_CFLAGS)
LDFLAGS_BASE := -pthread $(VARIANT_LDFLAGS)

# Lists that the fragments append to.
ALL_TARGETS :=        # everything `make all` builds
TEST_BINS   :=        # Criterion test executables, run by scripts/run-tests.sh
TEST_SCRIPTS :=       # shell checks (exit 0 = pass), run after the binaries
BENCH_DEPS  :=        # what `make bench` needs built

.PHONY: all test bench clean deps deps-ok
# Keep intermediate objects: no rebuilds, and no "rm" lines after the summary.
.SECONDARY:
all: deps-ok

DEPS_STAMP := $(BUILD)/.deps-ok
deps-ok: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/check-deps.sh scripts/install-deps.sh
	@scripts/check-deps.sh --install $(DEPS_FLAGS)
	@mkdir -p $(@D) && touch $@
deps: $(DEPS_STAMP)

include mk/*.mk
# Every component directory with a module.mk contributes its rules.
include $(sort $(wildcard */module.mk */*/module.mk */*/*/module.mk))

all: $(ALL_TARGETS)

test: $(DEPS_STAMP) $(ALL_TARGETS) $(TEST_BINS)
	@BUILD=$(BUILD) $(TEST_WRAPPER) scripts/run-tests.sh $(TEST_BINS) -- $(TEST_SCRIPTS)

bench: $(DEPS_STAMP) $(ALL_TARGETS) $(BENCH_DEPS)
	@BUILD=$(BUILD) scripts/bench.sh

clean:
	rm -rf $(BUILD) build-*
