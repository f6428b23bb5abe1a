-- LuaRocks package of shoal's Lua front-end for LuaJIT: the FFI module
-- `shoal` (shoal.lua with shoal_cdef.lua, shoal_archive.lua, shoal_library.lua,
-- shoal_images.lua, shoal_response.lua, and shoal/shoal.h, shoal/shoal_archive.h,
-- which shoal_cdef.lua reads the FFI declarations from), the SWIG module
-- `shoal.swig`, and the C library they load (libshoal.so.0), built from
-- this source tree with CMake. From the repository root:
--   luarocks --lua-version=5.1 make            (Debian's luarocks; LuaJIT is Lua 5.1)
-- Needs cmake, a C compiler, swig and libluajit-5.1-dev.
rockspec_format = "3.0"
package = "shoal"
version = "scm-1"
source = {
   url = "git+https://github.com/shoal/shoal.git",
}
description = {
   summary = "LuaJIT binding of shoal: low-latency messaging over shared memory and UDP (Aeron style)",
   detailed = [[
      Publications and subscriptions over IPC and UDP with Aeron's wire protocol,
      zero-copy polling into preallocated arrays through the LuaJIT FFI, and the
      complete C API as the SWIG module shoal.swig.
   ]],
   homepage = "https://github.com/shoal/shoal",
   license = "Apache-2.0",
}
dependencies = {
   "lua == 5.1",
}
build = {
   type = "command",
   -- The library goes next to shoal/swig.so; shoal.lua finds libshoal.so.0
   -- there (<tree>/lib/lua/5.1/shoal/).
   build_command = [[cmake -S . -B build/rock -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF ]] ..
      [[-DSHOAL_BUILD_BENCH=OFF -DSHOAL_BUILD_SWIG=ON >/dev/null && ]] ..
      [[cmake --build build/rock -j2 --target shoal shoal_swig_lua]],
   install_command = [[mkdir -p "$(LUADIR)/shoal" "$(LIBDIR)/shoal" && ]] ..
      [[cp bindings/lua/shoal.lua bindings/lua/shoal_cdef.lua ]] ..
      [[bindings/lua/shoal_archive.lua bindings/lua/shoal_library.lua ]] ..
      [[bindings/lua/shoal_images.lua bindings/lua/shoal_response.lua "$(LUADIR)/" && ]] ..
      [[cp core/include/shoal/shoal.h core/include/shoal/shoal_archive.h "$(LUADIR)/shoal/" && ]] ..
      [[cp -L build/rock/libshoal.so.0 "$(LIBDIR)/shoal/" && ]] ..
      [[cp build/rock/lua/shoal/swig.so "$(LIBDIR)/shoal/swig.so"]],
}
