# libFuzzer over every decoder of wire input: one harness per decoder,
# test/fuzz/fuzz_<name>.c, with its kept corpus in test/fuzz/corpus/<name>/
# (docs/reliability.md, Fuzzing). Adding a harness is adding that file.
#
#   make fuzz         each harness FUZZ_SECONDS (default 30) from its corpus,
#                     FUZZ_JOBS at a time (default: one per core),
#                     built by clang with -fsanitize=fuzzer,address,undefined
#                     into build-fuzz/; skipped, with the reason, without
#                     clang or its libFuzzer runtime (an error under CI=true)
#   make fuzz-corpus  FUZZ_CORPUS_SECONDS (default 600) each, new finds
#                     merged into the kept corpus (-merge=1)
#   make fuzz-seeds   the harnesses' own valid encodings into the corpus
#
# make test builds each harness with the project's compiler and variant into
# a replay driver (replay.c) and runs it over the seeds and the kept corpus.
FUZZ_CC ?= clang
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_CORPUS_SECONDS ?= 600
# Harnesses at once; empty: one per core.
FUZZ_JOBS ?=
FUZZ_NAMES := $(patsubst test/fuzz/fuzz_%.c,%,$(wildcard test/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
# Every decoder lives in the plugin's pure sources; they all link in.
FUZZ_LIB_OBJS = $(PLUGIN_PURE_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=gnu11 -O1 -g -Wall -Wextra -Werror $(FUZZ_SAN) $(PLUGIN_INC)

$(FUZZ_BUILD)/obj/%.o: %.c
	mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/test/fuzz/fuzz_%.o $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)

# The replay drivers, in the normal build.
FUZZ_REPLAY_BINS := $(FUZZ_NAMES:%=$(BUILD)/test/fuzz/replay_%)
$(BUILD)/obj/test/fuzz/%.o: EXTRA_CFLAGS += $(PLUGIN_INC)
$(BUILD)/test/fuzz/replay_%: $(BUILD)/obj/test/fuzz/fuzz_%.o $(BUILD)/obj/test/fuzz/replay.o \
		$(PLUGIN_PURE_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_BASE)
TEST_DEPS += $(FUZZ_REPLAY_BINS)
TEST_SCRIPTS += test/fuzz/replay.sh
QEMU_TEST_SCRIPTS += test/fuzz/replay.sh
.PRECIOUS: $(BUILD)/obj/test/fuzz/%.o $(FUZZ_BUILD)/obj/%.o

.PHONY: fuzz fuzz-corpus fuzz-seeds fuzz-build
fuzz-build: $(FUZZ_BINS)

# The probe's 77 is a skip, except in CI, which installs clang's runtime.
fuzz fuzz-corpus:
	rc=0; FUZZ_CC=$(FUZZ_CC) test/fuzz/fuzz.sh probe || rc=$$?; \
	if [ $$rc -eq 77 ] && [ "$${CI:-}" != true ]; then exit 0; fi; \
	if [ $$rc -ne 0 ]; then echo "fuzz: an error in CI, which installs clang's runtime (install-deps.sh --all)"; exit 1; fi; \
	echo "building $(FUZZ_BUILD)/ ($(FUZZ_CC), -fsanitize=fuzzer,address,undefined)"; \
	$(MAKE) fuzz-build || exit 1; \
	FUZZ_CC=$(FUZZ_CC) FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_JOBS=$(FUZZ_JOBS) \
	FUZZ_SECONDS=$(if $(filter fuzz,$@),$(FUZZ_SECONDS),$(FUZZ_CORPUS_SECONDS)) \
		test/fuzz/fuzz.sh $(if $(filter fuzz,$@),run,corpus) $(FUZZ_NAMES)

fuzz-seeds: $(DEPS_STAMP)
	$(MAKE) $(FUZZ_REPLAY_BINS)
	for n in $(FUZZ_NAMES); do \
		mkdir -p test/fuzz/corpus/$$n && \
		$(BUILD)/test/fuzz/replay_$$n --write-seeds test/fuzz/corpus/$$n || exit 1; \
	done
