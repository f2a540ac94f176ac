# The fresh-machine start: what check-deps.sh and install-deps.sh tell a user
# who lacks a compiler or root (README's quick start).
TEST_SCRIPTS += test/setup/check-deps-message.sh
