--[[
shoal_library.lua: finds and loads libshoal.so.0 for the FFI module shoal.lua
(which documents the search order at its top). Returns { load = fn(moddir) }:
load(moddir) -> the ffi library, the path it came from; raises naming every
place tried when none loads.
]]
local ffi = require "ffi"

-- "a/b/../../c" -> "c" (cosmetic: shoal.libpath reads better)
local function normalize(path)
    local abs = path:sub(1, 1) == "/"
    local parts = {}
    for part in path:gmatch("[^/]+") do
        if part == ".." and #parts > 0 and parts[#parts] ~= ".." then
            parts[#parts] = nil
        elseif part ~= "." then
            parts[#parts + 1] = part
        end
    end
    return (abs and "/" or "") .. table.concat(parts, "/")
end

local function try_load(path)
    local ok, lib = pcall(ffi.load, path)
    if ok then
        return lib
    end
    return nil, lib
end

local function file_exists(path)
    local f = io.open(path, "rb")
    if f then
        f:close()
        return true
    end
    return false
end

-- ../../build/{release,lua-core,test,debug,<any other>}/libshoal.so.0 next to
-- the module; sanitizer builds are skipped (they need their runtime preloaded).
local function build_tree_candidates(moddir)
    local root = moddir .. "/../../build"
    local list, seen = {}, {}
    local function add(dir)
        if not seen[dir] and not dir:match("san") then
            seen[dir] = true
            list[#list + 1] = normalize(root .. "/" .. dir .. "/libshoal.so.0")
        end
    end
    for _, d in ipairs({ "release", "lua-core", "test", "debug", "." }) do
        add(d)
    end
    -- any other build directory, found with ls (run once, at load)
    local p = io.popen('ls -1 "' .. root .. '" 2>/dev/null')
    if p then
        for name in p:lines() do
            add(name)
        end
        p:close()
    end
    return list
end

-- An install prefix (cmake --install: <prefix>/share/lua/5.1/shoal.lua ->
-- <prefix>/lib...), or a LuaRocks tree (the rock puts the library next to
-- shoal/swig.so).
local INSTALLED = { "/../../../lib/libshoal.so.0", "/../../../lib/x86_64-linux-gnu/libshoal.so.0",
    "/../../../lib64/libshoal.so.0", "/../../../lib/lua/5.1/shoal/libshoal.so.0" }

local function load(moddir)
    local env = os.getenv("SHOAL_LIB")
    if env and env ~= "" then
        local lib, err = try_load(env)
        if not lib then
            error("shoal: SHOAL_LIB=" .. env .. " does not load: " .. tostring(err), 0)
        end
        return lib, env
    end
    local tried = {}
    -- The first of paths that loads, and its path. only_files: skip paths
    -- naming no file; record: note each failure for the error below.
    local function first_loading(paths, only_files, record)
        for _, path in ipairs(paths) do
            if not only_files or file_exists(path) then
                local lib, err = try_load(path)
                if lib then
                    return lib, path
                end
                if record then
                    tried[#tried + 1] = path .. ": " .. tostring(err)
                end
            end
        end
    end
    local installed = {}
    for i, rel in ipairs(INSTALLED) do
        installed[i] = normalize(moddir .. rel)
    end
    local lib, path = first_loading(build_tree_candidates(moddir), true, true)
    if not lib then
        lib, path = first_loading(installed, true, false)
    end
    if not lib then
        lib, path = first_loading({ "libshoal.so.0", "shoal" }, false, true)
    end
    if lib then
        return lib, path
    end
    error("shoal: cannot find libshoal.so.0 (set SHOAL_LIB, build into build/, or install it):\n  "
        .. table.concat(tried, "\n  "), 0)
end

return { load = load }
