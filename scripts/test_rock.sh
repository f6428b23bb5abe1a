#!/usr/bin/env bash
# The LuaRocks package: `luarocks --lua-version=5.1 make` of
# rockspecs/shoal-scm-1.rockspec into a private tree, then the Lua tests run
# against the installed rock (shoal.lua and its files, shoal/swig.so and
# the libraries from the tree; nothing from the source tree's bindings/).
#   scripts/test_rock.sh [TREE]     (default build/rock-tree)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tree="$(realpath -m "${1:-$root/build/rock-tree}")"   # absolute: the script changes directory
[ $# -gt 0 ] && shift   # the rest goes to the Lua test runner
"$root/scripts/deps.sh" luarocks luajit libluajit-5.1-dev swig
rm -rf "$tree"
cd "$root"
luarocks --lua-version=5.1 --tree="$tree" make rockspecs/shoal-scm-1.rockspec > "$root/build/rock.log" 2>&1 \
  || { tail -30 "$root/build/rock.log"; exit 1; }
luarocks --lua-version=5.1 --tree="$tree" list --porcelain
lua_dir="$tree/share/lua/5.1" lib_dir="$tree/lib/lua/5.1"
for f in "$lua_dir/shoal.lua" "$lua_dir/shoal_cdef.lua" "$lua_dir/shoal_library.lua" \
    "$lua_dir/shoal_images.lua" "$lua_dir/shoal_response.lua" "$lua_dir/shoal_archive.lua" \
    "$lua_dir/shoal/shoal.h" "$lua_dir/shoal/shoal_archive.h" \
    "$lib_dir/shoal/swig.so" "$lib_dir/shoal/libshoal.so.0"; do
  [ -e "$f" ] || { echo "FAIL: the rock did not install $f"; exit 1; }
done
# The installed modules only: require "shoal" and "shoal.swig" resolve into
# the tree, and shoal.lua finds libshoal.so.0 there by itself (no SHOAL_LIB).
export LUA_PATH="$lua_dir/?.lua;;" LUA_CPATH="$lib_dir/?.so;;"
loaded=$(cd / && env -u SHOAL_LIB luajit -e 'local s = require "shoal"; print(package.searchpath("shoal", package.path) .. " " .. s.libpath)')
case "$loaded" in
  "$lua_dir/shoal.lua $lib_dir/shoal/libshoal.so.0") echo "ok: require 'shoal' from / loads $loaded" ;;
  *) echo "FAIL: require 'shoal' loaded $loaded"; exit 1 ;;
esac
(cd / && lua5.1 -e 'local s = require "shoal.swig"; assert(s.shoal_version and s.shoal_version() ~= nil); print("ok: plain Lua 5.1 loads shoal.swig, libshoal " .. s.shoal_version())')
# The suite needs the C examples (basic_publisher) from a build: the rock's.
cmake --build build/rock -j"$(nproc)" --target basic_publisher shoald > /dev/null
env -u SHOAL_LIB SHOAL_LUA_MODULES="$lua_dir" SHOAL_SWIG_CPATH="$lib_dir/?.so" SHOAL_ROCK_LIBDIR="$lib_dir/shoal/" \
  SHOAL_BUILD_DIR="$root/build/rock" luajit "$root/tests/lua/run.lua" "$@"
