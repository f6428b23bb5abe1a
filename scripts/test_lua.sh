#!/usr/bin/env bash
# Builds what the Lua front-end needs and runs the LuaJIT tests:
#  1. libshoal + the C examples (Release) into build/lua-core, if not built;
#  2. the SWIG Lua module shoal.swig (swig/shoal.i with swig/shoal_lua.i) into
#     build/lua-core/lua/shoal/swig.so;
#  3. tests/lua/run.lua under LuaJIT, which ends with "N passed, N failed".
# Exits non-zero on any failure. SHOAL_BUILD_DIR overrides build/lua-core.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${SHOAL_BUILD_DIR:-$root/build/lua-core}"
luadir="$build/lua"

"$root/scripts/deps.sh" luajit libluajit-5.1-dev swig lua5.1

step() { printf '\n=== %s\n' "$*"; }

step "libshoal (Release) in $build"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target shoal shoald basic_publisher >/dev/null
ls -l "$build/libshoal.so.0" | awk '{print "ok: " $NF}'

step "SWIG Lua module shoal.swig"
swig_bin="$(command -v swig4.0 || command -v swig)"
mkdir -p "$luadir/shoal"
iface="$root/swig/shoal.i"   # shared with Python; adds swig/shoal_lua.i under SWIGLUA
"$swig_bin" -lua -nomoduleglobal -module shoal_swig -I"$root/swig" -I"$root/core/include" \
  -o "$luadir/shoal_swig_wrap.c" "$iface"
# A Lua C module: LuaJIT headers, no -lluajit-5.1 (the interpreter provides the Lua API).
cc -std=gnu99 -O2 -fPIC -shared -Wall -Wextra -Werror $(pkg-config --cflags luajit) -I"$root/core/include" \
  "$luadir/shoal_swig_wrap.c" -o "$luadir/shoal/swig.so" \
  -L"$build" -l:libshoal.so.0 -Wl,-rpath,'$ORIGIN/../..'
echo "ok: $luadir/shoal/swig.so from ${iface#$root/} ($("$swig_bin" -version | awk '/SWIG Version/ {print "SWIG " $3}'))"

step "Lua tests (LuaJIT)"
SHOAL_LIB="$build/libshoal.so.0" SHOAL_BUILD_DIR="$build" luajit "$root/tests/lua/run.lua" "$@"
