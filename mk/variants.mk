# Build variants. Each one gets its own build directory so their objects never
# mix, and the top-level Makefile reads VARIANT_CFLAGS/VARIANT_LDFLAGS from here:
#
#   make ARCH=aarch64   cross build with Debian's aarch64-linux-gnu-gcc -> build-aarch64/
#   make SAN=asan       AddressSanitizer + UBSan                        -> build-asan/
#   make SAN=tsan       ThreadSanitizer                                 -> build-tsan/
#   make CC=clang       clang, same -Werror flags                       -> build-clang/
#
# Combinations stack in the directory name (CC=clang SAN=asan -> build-clang-asan/).
# BUILD=... on the command line still wins. docs/building.md explains each choice.
#
# The top-level Makefile includes this file before it sets BUILD and the flags,
# and again through mk/*.mk; the guard keeps the second include a no-op.
ifndef VARIANTS_MK_INCLUDED
VARIANTS_MK_INCLUDED := 1

HOST_ARCH := $(shell uname -m)
ARCH ?= $(HOST_ARCH)
ifeq ($(ARCH),arm64)
override ARCH := aarch64
endif

VARIANT_TAGS :=
VARIANT_CFLAGS :=
VARIANT_LDFLAGS :=
DEPS_FLAGS :=

# --- cross compilation ------------------------------------------------------
ifneq ($(ARCH),$(HOST_ARCH))
ifneq ($(ARCH),aarch64)
$(error ARCH=$(ARCH): only ARCH=aarch64 is supported as a cross target)
endif
CROSS := aarch64-linux-gnu
ifeq ($(origin CC),default)
CC := $(CROSS)-gcc
endif
VARIANT_TAGS += aarch64
DEPS_FLAGS += --cross aarch64
# Debian's libnanomsg5 and libnanomsg-dev are not Multi-Arch: same, so
# libcriterion3:arm64 cannot be installed next to the amd64 one. install-deps.sh
# unpacks those two libraries into this overlay instead; the linker finds them
# with -L/-rpath-link and qemu finds them through QEMU_LD_PREFIX (qemu looks
# up every absolute path under the prefix first, then in /).
AARCH64_OVERLAY ?= /opt/libnccl-net-spark/arm64-root
AARCH64_OVERLAY_LIBDIR := $(AARCH64_OVERLAY)/usr/lib/aarch64-linux-gnu
VARIANT_LDFLAGS += -L$(AARCH64_OVERLAY_LIBDIR) -Wl,-rpath-link,$(AARCH64_OVERLAY_LIBDIR)
export QEMU_LD_PREFIX := $(AARCH64_OVERLAY)
MULTIARCH := aarch64-linux-gnu
DEB_ARCH := arm64
else
CROSS :=
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null || echo $(HOST_ARCH)-linux-gnu)
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo $(HOST_ARCH))
endif

# --- compiler ----------------------------------------------------------------
ifneq ($(findstring clang,$(notdir $(CC))),)
VARIANT_TAGS += clang
DEPS_FLAGS += --clang
endif

# --- sanitizers ----------------------------------------------------------------
# UBSan aborts on the first finding (-fno-sanitize-recover) so a test cannot
# pass with a report in its log; scripts/san-run.sh also fails the run on any
# "SUMMARY: ...Sanitizer" line, which covers leak reports printed after a test
# has already reported success.
ifeq ($(SAN),asan)
VARIANT_TAGS += asan
VARIANT_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
VARIANT_LDFLAGS += -fsanitize=address,undefined
# clang links its ASan runtime statically into executables only; the shared
# one lets our shared libraries (softroce, the plugin) resolve it like gcc's.
ifneq ($(findstring clang,$(notdir $(CC))),)
VARIANT_LDFLAGS += -shared-libasan
endif
else ifeq ($(SAN),tsan)
VARIANT_TAGS += tsan
VARIANT_CFLAGS += -fsanitize=thread -fno-omit-frame-pointer
VARIANT_LDFLAGS += -fsanitize=thread
else ifneq ($(filter -%,$(firstword $(SAN))),)
# Raw compiler flags (SAN=-fsanitize=...), passed as they are; no runtime set-up.
VARIANT_TAGS += san
VARIANT_CFLAGS += $(SAN)
VARIANT_LDFLAGS += $(SAN)
else ifneq ($(SAN),)
$(error SAN=$(SAN): use SAN=asan, SAN=tsan or raw flags SAN=-fsanitize=...)
endif
ifneq ($(SAN),)
ifneq ($(CROSS),)
$(error SAN=$(SAN) with ARCH=$(ARCH): sanitizers run natively only)
endif
endif

variant_empty :=
variant_space := $(variant_empty) $(variant_empty)
ifneq ($(strip $(VARIANT_TAGS)),)
ifeq ($(origin BUILD),undefined)
BUILD := build-$(subst $(variant_space),-,$(strip $(VARIANT_TAGS)))
endif
endif

# Sanitized test runs go through scripts/san-run.sh (runtime options, report check).
ifneq ($(filter asan tsan,$(SAN)),)
TEST_WRAPPER := SAN=$(SAN) BUILD=$(BUILD) CC=$(CC) scripts/san-run.sh
endif

endif # VARIANTS_MK_INCLUDED
