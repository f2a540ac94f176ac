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
lint: cppcheck clang-tidy lint-headers
	@echo "lint: clean"

lint-db:
	@scripts/check-deps.sh --install --lint
	@rm -rf $(LINT_BUILD)/obj && mkdir -p $(LINT_BUILD)
	@bear --output $(LINT_DB) -- $(MAKE) --no-print-directory BUILD=$(LINT_BUILD) CC=clang SAN= \
		ARCH=$(HOST_ARCH) build-tests $(LINT_BUILD)/san/tsan-criterion-shim.so >/dev/null
	@scripts/lint/files.sh $(LINT_DB) $(LINT_DIRS) > $(LINT_BUILD)/lint-files.txt
	@echo "lint: $$(wc -l < $(LINT_BUILD)/lint-files.txt) translation units"

cppcheck: lint-db
	@echo "== cppcheck $$(cppcheck --version)"
	@scripts/lint/cppcheck.sh $(LINT_DB) $(LINT_BUILD)/lint-files.txt $(LINT_JOBS)

clang-tidy: lint-db
	@echo "== $$(clang-tidy --version | grep -m1 -o 'LLVM version.*')"
	@xargs -a $(LINT_BUILD)/lint-files.txt -r -n1 -P$(LINT_JOBS) clang-tidy -p $(LINT_BUILD) --quiet \
		--header-filter='^$(CURDIR)/($(subst $(variant_space),|,$(strip $(LINT_DIRS))))/'

lint-headers:
	@for h in $(LINT_HEADERS); do \
		clang -std=gnu11 -Wall -Wextra -Werror -fsyntax-only -Iinclude -x c $$h || exit 1; \
	done
