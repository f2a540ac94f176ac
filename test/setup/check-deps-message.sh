#!/usr/bin/env bash
# check-deps.sh without a compiler names the compiler first and each package
# once, and prints a command that works without sudo (su -c); install-deps.sh
# run by a user refuses with the same two forms and touches nothing. With
# everything present check-deps is silent.
set -euo pipefail
fail() { echo "check-deps-message: $*"; printf '%s\n' "${out:-}" | sed 's/^/  | /'; exit 1; }

out=$(scripts/check-deps.sh 2>&1) || fail "exit $? with every dependency present"
[ -z "$out" ] || fail "not silent with every dependency present"

rc=0; out=$(HOST_CC=/nonexistent/cc scripts/check-deps.sh 2>&1) || rc=$?
[ $rc -eq 1 ] || fail "exit $rc without a compiler, expected 1"
grep -q '^missing: a C compiler (/nonexistent/cc), ' <<<"$out" || fail "compiler not named first"
pk=$(sed -n 's/^packages: //p' <<<"$out")
[ -n "$pk" ] || fail "no packages line"
grep -qw build-essential <<<"$pk" || fail "build-essential not among the packages"
[ "$(tr ' ' '\n' <<<"$pk" | sort | uniq -d)" = "" ] || fail "a package named twice: $pk"
grep -qE "^  su -c '[^']*/scripts/install-deps\.sh'$" <<<"$out" || fail "no su -c command"

# As an unprivileged user (the tests usually run as root: drop to nobody,
# with a copy of the script that nobody can read wherever the tree lives).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	mkdir "$tmp/scripts" && cp scripts/install-deps.sh "$tmp/scripts/" && chmod -R a+rX "$tmp"
	rc=0
	out=$(cd "$tmp" && setpriv --reuid=65534 --regid=65534 --clear-groups \
		scripts/install-deps.sh --clang 2>&1) || rc=$?
	[ $rc -eq 1 ] || fail "install-deps.sh as a user: exit $rc, expected 1"
	grep -qF "sudo scripts/install-deps.sh --clang" <<<"$out" || fail "no sudo form"
	grep -qF "su -c 'scripts/install-deps.sh --clang'" <<<"$out" || fail "no su -c form"
fi
echo "check-deps-message: ok"
