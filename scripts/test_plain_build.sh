#!/usr/bin/env bash
# The build a new C user does, on a machine without the optional
# dependencies: `cmake -S . -B B && cmake --build B && cmake --install B
# --prefix P` must work with only a compiler and CMake, print one message per
# skipped part, and refuse a part asked for explicitly whose dependency is
# missing.
#
# How the dependencies are made missing, without a container: the script
# re-runs itself in a private mount namespace (unshare -m, needs root) where
# overlay mounts with whiteouts hide cmocka, libzmq, swig and LuaJIT's
# headers, libraries, pkg-config file and programs from everything the build
# runs (the files are gone for the compiler and CMake, not just ignored).
# Outside that namespace nothing changes.
#   scripts/test_plain_build.sh [BUILD_DIR]   (default build/plain)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(realpath -m "${1:-$root/build/plain}")"

if [ "${SHOAL_PLAIN_HIDDEN:-}" != 1 ]; then
  if [ "$(id -u)" -ne 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
    echo "SKIP: plain build check needs root and unshare -m (a private mount namespace) to hide the dependencies"
    exit 0
  fi
  exec env SHOAL_PLAIN_HIDDEN=1 unshare -m --propagation private bash "$0" "$@"
fi

# ---- inside the private mount namespace: hide the optional dependencies ----
layers="$(mktemp -d /tmp/shoal-plain-XXXXXX)"
trap 'rm -rf "$layers"' EXIT
arch_lib=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
hide() {   # hide DIR NAME...: overlay DIR with whiteouts (0/0 char devices) for NAME...
  local dir=$1; shift
  local upper="$layers/u$(echo "$dir" | tr / _)" work="$layers/w$(echo "$dir" | tr / _)"
  mkdir -p "$upper" "$work"
  for name in "$@"; do
    for path in "$dir"/$name; do
      [ -e "$path" ] || continue
      mkdir -p "$upper/$(dirname "${path#$dir/}")"
      mknod "$upper/${path#$dir/}" c 0 0
    done
  done
  mount -t overlay overlay -o "lowerdir=$dir,upperdir=$upper,workdir=$work" "$dir"
}
hide /usr/include 'cmocka*.h' 'zmq*.h' 'luajit-2.1'
hide "$arch_lib" 'libcmocka*' 'libzmq*' 'libluajit*' 'pkgconfig/luajit.pc' 'pkgconfig/libzmq.pc'
hide /usr/bin 'swig*' 'luajit*'
hidden=$(ls /usr/include/cmocka.h /usr/include/zmq.h "$arch_lib"/libcmocka.so "$arch_lib"/libzmq.so /usr/bin/swig4.0 2>/dev/null || true)
[ -z "$hidden" ] || { echo "FAIL: still visible: $hidden"; exit 1; }
echo "hidden: cmocka, libzmq, swig, luajit (headers, libraries, luajit.pc, programs)"

rm -rf "$build"
prefix="$build/prefix"
cmake -S "$root" -B "$build" > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
grep '^-- shoal:' "$build.configure.log"
[ "$(grep -c '^-- shoal: skipping' "$build.configure.log")" = 3 ] || { echo "FAIL: expected 3 skip messages"; exit 1; }
cmake --build "$build" -j"$(nproc)" > "$build.build.log" 2>&1 || { tail -30 "$build.build.log"; exit 1; }
cmake --install "$build" --prefix "$prefix" > /dev/null
for f in include/shoal/shoal.h lib/libshoal.so.0 lib/libshoal.a lib/pkgconfig/shoal.pc lib/cmake/shoal/shoalConfig.cmake \
    bin/shoald bin/shoal-stat bin/shoal-errors; do
  found=$(ls -d "$prefix"/$f "$prefix"/${f/lib\//lib/*/} 2>/dev/null || true)
  [ -n "$found" ] || { echo "FAIL: install lacks $f"; exit 1; }
done
[ ! -e "$prefix/bin/shoal-bench" ] || { echo "FAIL: shoal-bench installed without libzmq"; exit 1; }
echo "ok: plain configure, build and install into $prefix ($(find "$prefix" -type f | wc -l) files, no shoal-bench)"

# Asked for explicitly: a clear refusal naming the missing dependency.
for ask in "-DBUILD_TESTING=ON:cmocka" "-DSHOAL_BUILD_BENCH=ON:libzmq" "-DSHOAL_BUILD_SWIG=ON:swig"; do
  opt=${ask%%:*} dep=${ask##*:}
  if cmake -S "$root" -B "$build-explicit" "$opt" > "$build.explicit.log" 2>&1; then
    echo "FAIL: $opt configured without $dep"; exit 1
  fi
  msg=$(grep -A1 'CMake Error' "$build.explicit.log" | grep -m1 "was asked for" || true)
  [ -n "$msg" ] && grep -q "$dep" <<<"$msg" || { cat "$build.explicit.log"; echo "FAIL: $opt: unclear error"; exit 1; }
  echo "ok: $opt refused:$msg"
  rm -rf "$build-explicit"
done
rm -f "$build".*.log
