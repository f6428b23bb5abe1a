#!/usr/bin/env bash
# Builds everything and runs every test: the C unit and system tests (ctest),
# the same under ASan+UBSan, the concurrency tests under TSan, and the public
# header compiled as C99 -pedantic and as C++, then the Python (pytest) and
# LuaJIT test suites. Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
jobs="$(nproc)"
start=$SECONDS last=$SECONDS current="" timings=()
# Each step's duration is kept for the summary at the end (the CI matrix timings).
step() {
  if [ -n "$current" ]; then timings+=("$(printf '%5d s  %s' $((SECONDS - last)) "$current")"); fi
  current="$*" last=$SECONDS
  printf '\n=== %s\n' "$*"
}

step "public headers: C99 -pedantic and C++"
printf '#include <shoal/shoal.h>\n#include <shoal/shoal_archive.h>\nint main(void){ return shoal_version_number() < 0; }\n' > /tmp/shoal_hdr_check.c
cc -std=c99 -pedantic -Wall -Wextra -Werror -I"$root/core/include" -c /tmp/shoal_hdr_check.c -o /tmp/shoal_hdr_c.o
c++ -x c++ -std=c++11 -pedantic -Wall -Wextra -Werror -I"$root/core/include" -c /tmp/shoal_hdr_check.c -o /tmp/shoal_hdr_cpp.o
echo "ok"

step "house style: clang-format-14 --dry-run -Werror on every tracked C source (.clang-format)"
(cd "$root" && git ls-files -z '*.c' '*.h' | xargs -0 clang-format-14 --dry-run -Werror)
echo "ok: $(cd "$root" && git ls-files '*.c' '*.h' | wc -l) files"

step "build + tests (RelWithDebInfo)"
cmake -S "$root" -B "$root/build/test" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build/test" -j"$jobs"
(cd "$root/build/test" && ctest --output-on-failure -j"$jobs")

step "plain CMake build + install with cmocka, libzmq, swig, LuaJIT hidden (scripts/test_plain_build.sh)"
"$root/scripts/test_plain_build.sh" "$root/build/plain"

step "exported symbols are exactly the shoal_* API"
bad=$(nm -D --defined-only "$root/build/test/libshoal.so.0" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^shoal_' || true)
if [ -n "$bad" ]; then echo "unexpected exports: $bad"; exit 1; fi
echo "ok: $(nm -D --defined-only "$root/build/test/libshoal.so.0" | grep -c ' T shoal_') functions"

step "ABI against the stored baseline (abi/libshoal.so.0.abi, abidiff)"
"$root/scripts/abi_check.sh" "$root/build/test"

step "ASan + UBSan build + tests"
cmake -S "$root" -B "$root/build/asan" -DCMAKE_BUILD_TYPE=Debug -DSHOAL_SANITIZE=address >/dev/null
cmake --build "$root/build/asan" -j"$jobs"
# The loss tests run their full 1,000,000 messages in the build above; here
# 200,000 exercise the same paths for memory errors in a third of the time.
(cd "$root/build/asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  SHOAL_TEST_LOSS_MESSAGES=200000 ctest --output-on-failure -j"$jobs")

step "TSan build + concurrency tests"
cmake -S "$root" -B "$root/build/tsan" -DCMAKE_BUILD_TYPE=Debug -DSHOAL_SANITIZE=thread >/dev/null
cmake --build "$root/build/tsan" -j"$jobs"
(cd "$root/build/tsan" && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --output-on-failure -L concurrency)

step "libFuzzer targets (clang, ASan+UBSan), 15 s each"
"$root/scripts/fuzz.sh" 15

step "Python binding: pip install + pytest"
"$root/scripts/test_python.sh"

step "Lua binding: LuaJIT FFI + SWIG module"
bash "$root/scripts/test_lua.sh"

step "Debian packages: cpack, dpkg -c, lintian, dpkg -i, examples/c/consumer against /usr (scripts/test_deb.sh)"
"$root/scripts/test_deb.sh" "$root/build/deb"

step "Python wheel: pip wheel, fresh venv, used from / (scripts/test_wheel.sh)"
"$root/scripts/test_wheel.sh" "$root/build/wheel"

# The second Lua pass also compiles nearly every function and loop at once
# (SHOAL_LUA_HOTLOOP=2, tests/lua/run.lua): a C call that calls back into Lua
# from compiled code aborts LuaJIT, and this makes it show every time.
step "LuaRocks: luarocks make rockspecs/shoal-scm-1.rockspec, Lua tests against the rock with hot JIT (scripts/test_rock.sh)"
SHOAL_LUA_HOTLOOP=2 "$root/scripts/test_rock.sh" "$root/build/rock-tree"

step "the demo's flow: C feed -> Lua strategy -> Python analytics (examples/python/analytics.py)"
"$root/.venv-test/bin/python" -P "$root/examples/python/analytics.py" --build "$root/build/lua-core" -n 200000 \
  | grep -v '^\[lua strategy\] ORDER'

step "all tests passed in $((SECONDS - start)) s"
printf '%s\n' "${timings[@]}"
