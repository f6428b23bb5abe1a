#!/usr/bin/env bash
# cmake --install into a prefix, then build a user program against it with
# pkg-config (shared and static) using only <shoal/shoal.h>, and run it.
source "$(dirname "$0")/lib.sh"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
PREFIX="$(mktemp -d /tmp/shoal-prefix-XXXXXX)"
trap 'cleanup; rm -rf "$PREFIX"' EXIT

cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null
for f in include/shoal/shoal.h lib/libshoal.so.0 lib/libshoal.a lib/pkgconfig/shoal.pc bin/shoald bin/shoal-stat bin/shoal-errors; do
  p=$(ls -d "$PREFIX"/$f "$PREFIX"/${f/lib\//lib/x86_64-linux-gnu/} 2>/dev/null | head -1 || true)
  [ -n "$p" ] || fail "install lacks $f"
done
pass "install puts header, shared and static libraries, shoal.pc and tools in the prefix"

# A sanitizer build's libraries need the same runtime in the programs linking them.
SAN=""
case "$(grep '^SHOAL_SANITIZE' "$BUILD/CMakeCache.txt" | cut -d= -f2)" in
  address) SAN="-fsanitize=address,undefined" ;;
  thread) SAN="-fsanitize=thread" ;;
esac
pcdir=$(dirname "$(find "$PREFIX" -name shoal.pc | head -1)")
export PKG_CONFIG_PATH="$pcdir"
[ "$(pkg-config --modversion shoal)" = "$("$PREFIX/bin/shoald" --version | awk '{print $2}')" ] || fail "pkg-config version"
cc $SAN -std=c99 -Wall -Werror -D_GNU_SOURCE "$SRC/examples/c/basic_publisher.c" -o "$PREFIX/pub_shared" $(pkg-config --cflags --libs shoal)
cc $SAN -std=c99 -Wall -Werror -D_GNU_SOURCE "$SRC/examples/c/basic_subscriber.c" -o "$PREFIX/sub_static" \
  $(pkg-config --cflags shoal) "$(dirname "$(find "$PREFIX" -name libshoal.a | head -1)")/libshoal.a" -lpthread -lrt
pass "user programs build with pkg-config (shared) and against libshoal.a (static)"

libdir=$(dirname "$(find "$PREFIX" -name libshoal.so.0 | head -1)")
start_shoald
"$PREFIX/sub_static" -d "$DIR" -n 100 -t 30 >/dev/null &
sub=$!; PIDS+=("$sub")
LD_LIBRARY_PATH="$libdir" "$PREFIX/pub_shared" -d "$DIR" -n 100 >/dev/null
wait $sub || fail "installed programs did not exchange messages"
# captured first: grep -q stopping early would SIGPIPE ldd and trip pipefail
linked="$(LD_LIBRARY_PATH="$libdir" ldd "$PREFIX/pub_shared")"
grep -q "$libdir/libshoal.so.0" <<<"$linked" || fail "not linked to the installed libshoal.so.0: $linked"
pass "installed shared and static builds exchange messages through shoald"
echo "$PASSED passed, 0 failed"
