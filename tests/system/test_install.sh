#!/usr/bin/env bash
# cmake --install into a prefix, then build user programs against it using
# only <shoal/shoal.h>: the examples with pkg-config (shared and static) and
# the out-of-tree project examples/c/consumer both ways, with the CMake
# package (find_package(shoal CONFIG): shoal::shoal and shoal::shoal_static)
# and with pkg-config (its Makefile); all of them run against shoald.
source "$(dirname "$0")/lib.sh"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
PREFIX="$(mktemp -d /tmp/shoal-prefix-XXXXXX)"
trap 'cleanup; rm -rf "$PREFIX"' EXIT

cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null
for f in include/shoal/shoal.h lib/libshoal.so.0 lib/libshoal.a lib/pkgconfig/shoal.pc bin/shoald bin/shoal-stat bin/shoal-errors bin/shoal-archive bin/shoal-archived \
    include/shoal/shoal_archive.h \
    lib/cmake/shoal/shoalConfig.cmake lib/cmake/shoal/shoalConfigVersion.cmake lib/cmake/shoal/shoalTargets.cmake; do
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

# ---- examples/c/consumer, out of tree, against the prefix ----
CC_SAN="${SAN:+-DCMAKE_C_FLAGS=$SAN -DCMAKE_EXE_LINKER_FLAGS=$SAN}"
for linkage in shared static; do
  static=OFF; [ $linkage = static ] && static=ON
  cmake -S "$SRC/examples/c/consumer" -B "$PREFIX/consumer-$linkage" -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DCONSUMER_STATIC=$static $CC_SAN > "$PREFIX/consumer.log" 2>&1 || fail "consumer configure: $(cat "$PREFIX/consumer.log")"
  cmake --build "$PREFIX/consumer-$linkage" > "$PREFIX/consumer.log" 2>&1 || fail "consumer build: $(cat "$PREFIX/consumer.log")"
  LD_LIBRARY_PATH="$libdir" "$PREFIX/consumer-$linkage/consumer" -d "$DIR" -n 1000 | tee "$PREFIX/consumer.out"
  grep -q "1000 of 1000 messages back, 0 out of order" "$PREFIX/consumer.out" || fail "consumer ($linkage) result"
  needed="$(LD_LIBRARY_PATH="$libdir" ldd "$PREFIX/consumer-$linkage/consumer")"
  if [ $linkage = static ]; then ! grep -q libshoal <<<"$needed" || fail "static consumer needs libshoal.so: $needed"
  else grep -q "$libdir/libshoal.so.0" <<<"$needed" || fail "shared consumer not linked to the prefix: $needed"; fi
done
# A version the package cannot satisfy (next major) is refused by the version file.
mkdir -p "$PREFIX/too-new"
printf 'cmake_minimum_required(VERSION 3.19)\nproject(p LANGUAGES C)\nfind_package(shoal %s CONFIG REQUIRED)\n' \
  "$(( $(pkg-config --modversion shoal | cut -d. -f1) + 1 )).0" > "$PREFIX/too-new/CMakeLists.txt"
if cmake -S "$PREFIX/too-new" -B "$PREFIX/too-new/build" -DCMAKE_PREFIX_PATH="$PREFIX" > "$PREFIX/too-new.log" 2>&1; then
  fail "find_package(shoal NEXT_MAJOR) accepted the installed package"
fi
grep -q "not compatible\|not found\|version" "$PREFIX/too-new.log" || fail "version refusal unclear: $(cat "$PREFIX/too-new.log")"
pass "examples/c/consumer built with find_package(shoal) (shoal::shoal, shoal::shoal_static) runs; a newer major is refused"

mkdir -p "$PREFIX/consumer-pc"
make -s -C "$PREFIX/consumer-pc" -f "$SRC/examples/c/consumer/Makefile" CC="cc $SAN" > "$PREFIX/make.log" 2>&1 \
  || fail "consumer (pkg-config) build: $(cat "$PREFIX/make.log")"
result=$(LD_LIBRARY_PATH="$libdir" "$PREFIX/consumer-pc/consumer" -d "$DIR" -n 1000)  # (not piped into grep -q: pipefail)
grep -q "1000 of 1000 messages back, 0 out of order" <<< "$result" || fail "consumer (pkg-config) result: $result"
pass "examples/c/consumer built with pkg-config runs"
echo "$PASSED passed, 0 failed"
