#!/usr/bin/env bash
# scripts/mkdeb.sh on the built plugin: the main .deb ships it stripped (no
# .debug_* sections, build-id and debuglink kept) with a DEP-5 copyright file
# carrying LICENSE; the -dbgsym .deb has the debug sections under
# /usr/lib/debug/.build-id/<id>.debug and depends on the exact version.
set -euo pipefail
BUILD=${BUILD:-build}
so=$BUILD/libnccl-net-spark.so
ma=$(${CC:-cc} -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")
arch=$(dpkg --print-architecture)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-deb: $*"; exit 1; }
# has PATTERN CMD...: CMD's output matches (read whole: grep -q on a pipe
# would kill CMD with SIGPIPE, which pipefail counts as a failure).
has() { local out; out=$("${@:2}"); grep -q -- "$1" <<<"$out"; }

mkdir -p "$tmp/stage/usr/lib/$ma"
cp "$so" "$tmp/stage/usr/lib/$ma/"
scripts/mkdeb.sh "$tmp/stage" libnccl-net-spark 1.2~test "$arch" "$ma" "$tmp" >/dev/null
deb=$tmp/libnccl-net-spark_1.2~test_${arch}.deb
dbg=$tmp/libnccl-net-spark-dbgsym_1.2~test_${arch}.deb
list=$(dpkg-deb -c "$deb")   # (not piped into grep -q: SIGPIPE under pipefail)
grep -q " ./usr/lib/$ma/libnccl-net-spark.so$" <<<"$list" || fail "no plugin in $deb"
grep -q ' ./usr/share/doc/libnccl-net-spark/copyright$' <<<"$list" || fail "no copyright"
! grep -q '/usr/lib/debug' <<<"$list" || fail "debug symbols in the main package"

dpkg-deb -x "$deb" "$tmp/main"
dpkg-deb -x "$dbg" "$tmp/dbg"
shipped=$tmp/main/usr/lib/$ma/libnccl-net-spark.so
! has '\.debug_' readelf -S "$shipped" || fail "shipped .so is not stripped"
has '\.gnu_debuglink' readelf -S "$shipped" || fail "shipped .so has no debuglink"
has '\.debug_info' readelf -S "$so" || fail "built .so has no debug info to split"
id=$(readelf -n "$shipped" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
[ "$id" = "$(readelf -n "$so" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')" ] || fail "build-id changed"
debug=$tmp/dbg/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
[ -f "$debug" ] || fail "no $debug in the -dbgsym package"
has '\.debug_info' readelf -S "$debug" || fail "$debug has no .debug_info"
# The symbols resolve: the debug file names the plugin's exported table.
has ' ncclNetPlugin_v8$' readelf -s "$debug" || fail "$debug lacks ncclNetPlugin_v8"
dpkg-deb -f "$dbg" Depends | grep -qx 'libnccl-net-spark (= 1.2~test)' || fail "dbgsym Depends"
dpkg-deb -f "$dbg" Build-Ids | grep -qx "$id" || fail "dbgsym Build-Ids"
dpkg-deb -f "$deb" Depends | grep -q 'libibverbs1' || fail "main Depends lacks libibverbs1"

# DEP-5: the format line, one Files: * stanza, the license text in full.
c=$tmp/main/usr/share/doc/libnccl-net-spark/copyright
head -n1 "$c" | grep -qx 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' ||
	fail "copyright is not DEP-5"
grep -qx 'Files: \*' "$c" || fail "copyright has no Files: * stanza"
grep -qx 'Copyright: 2026 the libnccl-net-spark authors' "$c" || fail "copyright holder"
diff <(sed -n '/^License:/,$p' "$c" | tail -n +2 | sed 's/^ //; s/^\.$//') <(sed -n '3,$p' LICENSE) ||
	fail "copyright's license text differs from LICENSE"
echo "check-deb: ok ($(stat -c %s "$so") B built, $(stat -c %s "$shipped") B shipped, build-id $id)"
