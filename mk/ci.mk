# `make build-tests`: everything `make test` runs, built but not run (CI uses it
# for the clang -Werror job and the aarch64 cross build). compile-test (the
# top-level Makefile) reads the lists after every module.mk has appended.
.PHONY: build-tests
build-tests: $(DEPS_STAMP)
	$(MAKE) compile-test
