# `make build-tests`: everything `make test` runs, built but not run (CI uses it
# for the clang -Werror job and the aarch64 cross build). The lists are read in
# the recipe, after every module.mk has appended to them.
.PHONY: build-tests
build-tests: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory $(ALL_TARGETS) $(TEST_BINS)
