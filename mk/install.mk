# Installation and packaging of the plugin.
#
#   make install PREFIX=/opt/nccl-net-spark [DESTDIR=/tmp/stage]
#       $(PREFIX)/lib/libnccl-net-spark.so and $(PREFIX)/share/doc/libnccl-net-spark/
#   make deb [ARCH=aarch64]
#       $(BUILD)/libnccl-net-spark_<version>_<arch>.deb, installing the plugin
#       into /usr/lib/<multiarch>/ where the dynamic loader (and so NCCL's
#       dlopen of libnccl-net-spark.so) finds it without LD_LIBRARY_PATH
#   make bindist [ARCH=aarch64]
#       $(BUILD)/libnccl-net-spark-<version>-<arch>.tar.gz: lib/ + share/doc/,
#       to unpack anywhere and add <dir>/lib to LD_LIBRARY_PATH
#   make dist
#       $(BUILD)/libnccl-net-spark-<version>.tar.gz: the sources of HEAD
#
# Modules can add files: INSTALL_LIBS (-> lib), INSTALL_BINS (-> bin),
# INSTALL_DOCS (-> share/doc/libnccl-net-spark).
PACKAGE := libnccl-net-spark
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
BINDIR ?= $(PREFIX)/bin
DOCDIR ?= $(PREFIX)/share/doc/$(PACKAGE)
DESTDIR ?=
INSTALL_LIBS := $(BUILD)/libnccl-net-spark.so
INSTALL_BINS := $(BUILD)/spark-netcheck
INSTALL_DOCS := README.md $(wildcard docs/*.md)

# 0.0~git<commits>.<hash>: sorts upward with every commit, valid as a Debian
# version, traceable to the commit. A v<N> tag, once there is one, wins.
PKG_VERSION ?= $(shell scripts/pkg-version.sh)

.PHONY: install uninstall deb bindist dist
install: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory $(ALL_TARGETS)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(DOCDIR)
	install -m 0644 $(INSTALL_LIBS) $(DESTDIR)$(LIBDIR)/
	$(if $(strip $(INSTALL_BINS)),install -d $(DESTDIR)$(BINDIR) && install -m 0755 $(INSTALL_BINS) $(DESTDIR)$(BINDIR)/)
	install -m 0644 $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(LIBDIR)/,$(notdir $(INSTALL_LIBS)))
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(INSTALL_BINS)))
	rm -rf $(DESTDIR)$(DOCDIR)

deb: $(DEPS_STAMP)
	@rm -rf $(BUILD)/pkg/deb
	@$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/$(BUILD)/pkg/deb PREFIX=/usr \
		LIBDIR=/usr/lib/$(MULTIARCH) >/dev/null
	@scripts/mkdeb.sh $(BUILD)/pkg/deb $(PACKAGE) $(PKG_VERSION) $(DEB_ARCH) $(MULTIARCH) $(BUILD)

bindist: $(DEPS_STAMP)
	@rm -rf $(BUILD)/pkg/tar
	@$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/$(BUILD)/pkg/tar/$(PACKAGE)-$(PKG_VERSION)-$(DEB_ARCH) \
		PREFIX= LIBDIR=/lib BINDIR=/bin DOCDIR=/share/doc/$(PACKAGE) >/dev/null
	@tar -C $(BUILD)/pkg/tar --owner=0 --group=0 -czf $(BUILD)/$(PACKAGE)-$(PKG_VERSION)-$(DEB_ARCH).tar.gz \
		$(PACKAGE)-$(PKG_VERSION)-$(DEB_ARCH)
	@echo "bindist: $(BUILD)/$(PACKAGE)-$(PKG_VERSION)-$(DEB_ARCH).tar.gz"

dist:
	@mkdir -p $(BUILD)
	@git archive --format=tar.gz --prefix=$(PACKAGE)-$(PKG_VERSION)/ -o $(BUILD)/$(PACKAGE)-$(PKG_VERSION).tar.gz HEAD
	@echo "dist: $(BUILD)/$(PACKAGE)-$(PKG_VERSION).tar.gz"
