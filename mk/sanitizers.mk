# Support files for the sanitizer variants (SAN=asan|tsan, see mk/variants.mk).
# `make test SAN=...` runs through scripts/san-run.sh, which needs them.

# Preloaded by scripts/san-run.sh in the TSan variant. Built without
# -fsanitize: it is preloaded into every process of the test run, shells
# included, so it must not pull the TSan runtime in on its own.
TSAN_SHIM := $(BUILD)/san/tsan-criterion-shim.so
$(TSAN_SHIM): scripts/sanitizers/tsan-criterion-shim.c $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -fPIC -shared -o $@ $< -ldl

ifeq ($(SAN),tsan)
TEST_DEPS += $(TSAN_SHIM)
endif
