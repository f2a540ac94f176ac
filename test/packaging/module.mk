# Packaging checks: the .debs `make deb` builds (copyright, stripped plugin,
# debug symbols by build-id) and the version a `make dist` tarball builds with.
TEST_SCRIPTS += test/packaging/check-deb.sh test/packaging/check-version.sh
