# `make lint`: cppcheck and clang-tidy over our C sources and the headers they
# include, zero findings allowed. Suppressions live next to the code they
# excuse (cppcheck: `// cppcheck-suppress id` + why; clang-tidy: NOLINT(check)
# + why).
#
# Both tools read a compilation database, so each file is analysed with the
# exact include paths, defines and EXTRA_CFLAGS it is built with. It is
# recorded by bear from a clean clang build of everything in build-lint/
# (clang also gives the -Werror build a second compiler).
LINT_BUILD ?= build-lint
LINT_DB := $(LINT_BUILD)/compile_commands.json
# Our sources: what is under these directories and in the database.
LINT_DIRS ?= plugin include test scripts
LINT_JOBS ?= 2
# Headers are also compiled on their own (-fsyntax-only): each one must
# include what it uses.
LINT_HEADERS = $(shell find include -name '*.h' 2>/dev/null | sort)

.PHONY: lint lint-db cppcheck clang-tidy lint-headers
# All three run even when one finds something, so one run lists everything.
lint: lint-db
	@rc=0; \
	$(MAKE) --no-print-directory cppcheck LINT_NO_DB=1 || rc=1; \
	$(MAKE) --no-print-directory clang-tidy LINT_NO_DB=1 || rc=1; \
	$(MAKE) --no-print-directory lint-headers || rc=1; \
	if [ $$rc -eq 0 ]; then echo "lint: clean"; else echo "lint: findings above"; fi; \
	exit $$rc

lint-db:
	@scripts/check-deps.sh --install --lint
	@rm -rf $(LINT_BUILD)/obj && mkdir -p $(LINT_BUILD)
	@bear --output $(LINT_DB) -- $(MAKE) --no-print-directory BUILD=$(LINT_BUILD) CC=clang SAN= \
		ARCH=$(HOST_ARCH) build-tests $(LINT_BUILD)/san/tsan-criterion-shim.so >/dev/null
	@scripts/lint/files.sh $(LINT_DB) $(LINT_DIRS) > $(LINT_BUILD)/lint-files.txt
	@echo "lint: $$(wc -l < $(LINT_BUILD)/lint-files.txt) translation units"

# LINT_NO_DB=1: use the database `make lint` has just recorded.
LINT_DB_DEP := $(if $(LINT_NO_DB),,lint-db)

cppcheck: $(LINT_DB_DEP)
	@echo "== cppcheck $$(cppcheck --version)"
	@scripts/lint/cppcheck.sh $(LINT_DB) $(LINT_BUILD)/lint-files.txt $(LINT_JOBS)

clang-tidy: $(LINT_DB_DEP)
	@echo "== clang-tidy $$(clang-tidy --version | grep -m1 -o 'version [0-9.]*')"
	@scripts/lint/clang-tidy.sh $(LINT_BUILD) $(LINT_BUILD)/lint-files.txt $(LINT_JOBS) $(LINT_DIRS)

lint-headers:
	@for h in $(LINT_HEADERS); do \
		clang -std=gnu11 -Wall -Wextra -Werror -fsyntax-only -Iinclude -x c $$h || exit 1; \
	done
