#!/usr/bin/env luajit
--[[
The Lua test runner: runs every tests/lua/test_*.lua (or the files named on
the command line) under LuaJIT and ends with the line `N passed, N failed`.
Exit status 0 only when nothing failed.

  luajit tests/lua/run.lua [test_file.lua ...] [--filter substring]

A test file returns a suite (helper.suite()) whose tests run in order; each
test runs in its own pcall, and helper.cleanup() then closes any driver the
test left open. Environment: SHOAL_LIB (the libshoal.so.0 to test),
SHOAL_BUILD_DIR (build tree with basic_publisher and lua/shoal/swig.so),
SHOAL_LUA_HOTLOOP=N (LuaJIT's hotloop: with 1 or 2 nearly every function and
loop is compiled at once, so a C call that calls back into Lua from compiled
code, which aborts the process, shows up in every run instead of by chance).
]]
local hotloop = tonumber(os.getenv("SHOAL_LUA_HOTLOOP") or "")
if hotloop and jit then
    jit.opt.start("hotloop=" .. hotloop, "hotexit=1")
end
-- this script's directory, first on package.path (before any require)
local dir = debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path

local H = require "helper"

local files, filter = {}, nil
local i = 1
while i <= #arg do
    local a = arg[i]
    if a == "--filter" then
        i = i + 1
        filter = arg[i]
    else
        files[#files + 1] = a
    end
    i = i + 1
end
if #files == 0 then
    local p = io.popen('ls -1 "' .. dir .. '"/test_*.lua')
    for f in p:lines() do
        files[#files + 1] = f
    end
    p:close()
end

print(("shoal Lua tests: %s, libshoal %s (%s)%s"):format(jit and jit.version or _VERSION, H.shoal.version(),
    H.shoal.libpath, hotloop and (", hotloop=" .. hotloop) or ""))

local passed, failed, failures = 0, 0, {}
local t_all = H.shoal.now_ns()
for _, file in ipairs(files) do
    local short = file:match("([^/]+)%.lua$") or file
    local chunk, err = loadfile(file)
    local suite
    if chunk then
        local ok, res = xpcall(chunk, debug.traceback)
        if ok then
            suite = res
        else
            err = res
        end
    end
    if not suite or type(suite.tests) ~= "table" then
        failed = failed + 1
        failures[#failures + 1] = short .. ": cannot load: " .. tostring(err)
        print(("FAIL %s: cannot load: %s"):format(short, tostring(err)))
    else
        for _, t in ipairs(suite.tests) do
            local full = short .. ": " .. t.name
            if not filter or full:find(filter, 1, true) then
                local t0 = H.shoal.now_ns()
                local ok, terr = xpcall(t.fn, debug.traceback)
                H.cleanup()
                collectgarbage()
                local ms = (H.shoal.now_ns() - t0) / 1e6
                if ok then
                    passed = passed + 1
                    print(("ok   %s (%.0f ms)"):format(full, ms))
                else
                    failed = failed + 1
                    failures[#failures + 1] = full .. "\n    " .. tostring(terr):gsub("\n", "\n    ")
                    print(("FAIL %s (%.0f ms)\n    %s"):format(full, ms, tostring(terr):gsub("\n", "\n    ")))
                end
                io.stdout:flush()
            end
        end
    end
end

if #failures > 0 then
    print("\nfailures:")
    for _, f in ipairs(failures) do
        print("  " .. f:gsub("\n.*", ""))
    end
end
print(("\nLua tests took %.1f s"):format((H.shoal.now_ns() - t_all) / 1e9))
print(("%d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and passed > 0 and 0 or 1)
