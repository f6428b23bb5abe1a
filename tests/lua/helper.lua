-- Shared test helpers: paths, private driver directories, waits, child
-- processes and assertions. Loaded by tests/lua/run.lua before the tests.
local H = {}

local function script_dir()
    local src = debug.getinfo(1, "S").source
    return src:sub(2):match("^(.*)/[^/]*$") or "."
end

local function abspath(p)
    if p:sub(1, 1) ~= "/" then
        local pwd = os.getenv("PWD") or io.popen("pwd"):read("*l")
        p = pwd .. "/" .. p
    end
    local parts = {}
    for part in p:gmatch("[^/]+") do
        if part == ".." then
            parts[#parts] = nil
        elseif part ~= "." then
            parts[#parts + 1] = part
        end
    end
    return "/" .. table.concat(parts, "/")
end

H.ROOT = abspath(script_dir() .. "/../..")
H.BUILD = os.getenv("SHOAL_BUILD_DIR") or (H.ROOT .. "/build/lua-core")
H.LUA_DIR = H.ROOT .. "/bindings/lua"
-- Where `require "shoal"` and `require "shoal.swig"` come from: the source
-- tree and the build by default; an installed rock's tree when
-- scripts/test_rock.sh sets SHOAL_LUA_MODULES and SHOAL_SWIG_CPATH.
H.MODULE_DIR = os.getenv("SHOAL_LUA_MODULES") or H.LUA_DIR
H.SWIG_CPATH = os.getenv("SHOAL_SWIG_CPATH") or (H.BUILD .. "/lua/?.so")
H.LUAJIT = os.getenv("LUAJIT") or "luajit"
package.path = H.MODULE_DIR .. "/?.lua;" .. H.ROOT .. "/tests/lua/?.lua;" .. package.path
package.cpath = H.SWIG_CPATH .. ";" .. package.cpath

local ffi = require "ffi"
local shoal = require "shoal"
H.shoal = shoal

H.URI = "aeron:ipc?term-length=64k"

-- ------------------------------------------------------------ assertions

local function fmt(v)
    if type(v) == "string" then
        return ("%q"):format(v)
    end
    return tostring(v)
end

function H.eq(actual, expected, what)
    if actual ~= expected then
        error(("%s: expected %s, got %s"):format(what or "value", fmt(expected), fmt(actual)), 2)
    end
end

function H.ok(v, what)
    if not v then
        error((what or "assertion") .. " failed", 2)
    end
    return v
end

-- Calls fn(...) and checks it raises an error whose message contains `pattern` (plain).
function H.raises(pattern, fn, ...)
    local ok, err = pcall(fn, ...)
    if ok then
        error(("expected an error matching %q, got success"):format(pattern), 2)
    end
    err = tostring(err)
    if not err:find(pattern, 1, true) then
        error(("expected an error matching %q, got %q"):format(pattern, err), 2)
    end
    return err
end

-- Checks a `nil, message, code` return.
function H.fails(code, pattern, v, msg, c)
    if v ~= nil then
        error(("expected nil, message (code %s), got %s"):format(tostring(code), fmt(v)), 2)
    end
    if code ~= nil and c ~= code then
        error(("expected code %s, got %s (%s)"):format(tostring(code), tostring(c), tostring(msg)), 2)
    end
    if pattern and not tostring(msg):find(pattern, 1, true) then
        error(("expected message matching %q, got %q"):format(pattern, tostring(msg)), 2)
    end
end

-- ------------------------------------------------------------------ time

function H.wait_until(pred, timeout_s, what)
    local deadline = shoal.now_ns() + (timeout_s or 5) * 1e9
    local spins = 0
    while true do
        local v = pred()
        if v then
            return v
        end
        if shoal.now_ns() > deadline then
            error("timed out waiting for " .. (what or "condition"), 2)
        end
        spins = spins + 1
        if spins > 100 then
            shoal.sleep(0.0005)
        end
    end
end

-- --------------------------------------------------------- environments

local counter = 0
local open_envs = {}

function H.new_dir()
    counter = counter + 1
    return ("/dev/shm/shoal-luatest-%d-%d"):format(shoal.getpid(), counter)
end

local function rm_rf(dir)
    if dir:match("^/dev/shm/shoal%-luatest%-") then
        os.execute("rm -rf '" .. dir .. "'")
    end
end
H.rm_rf = rm_rf

-- A private driver directory with an embedded driver and one client.
-- opts: extra context settings. Closed by env:close() or after the test.
function H.env(opts)
    local dir = H.new_dir()
    local settings = { dir = dir, dir_delete_on_shutdown = true, ipc_term_length = "64k" }
    for k, v in pairs(opts or {}) do
        settings[k] = v
    end
    local e = { dir = dir }
    e.ctx = shoal.context(settings)
    e.driver = assert(shoal.driver(e.ctx))
    e.client = assert(shoal.client(e.ctx))
    function e:pubsub(stream, exclusive, uri)
        uri = uri or H.URI
        local sub = assert(self.client:add_subscription(uri, stream))
        local pub = assert(self.client:add_publication(uri, stream, exclusive))
        H.wait_until(function() return pub:is_connected() and sub:is_connected() end, 5, "connection")
        return pub, sub
    end
    function e:close()
        if self.closed then
            return
        end
        self.closed = true
        open_envs[self] = nil
        self.client:close()
        self.driver:close()
        self.ctx:close()
        rm_rf(self.dir)
    end
    open_envs[e] = true
    return e
end

-- H.env with an archive: an archive server (shoal.archive.server) in a fresh
-- directory (e.archive_dir, under /tmp) and the client's archive session
-- (e.arc); e:close() closes them first and removes the directory.
function H.archive_env(opts)
    local settings = { archive_segment_length = "256k" }
    for k, v in pairs(opts or {}) do
        settings[k] = v
    end
    local e = H.env(settings)
    e.archive_dir = ("/tmp/shoal-luatest-archive-%d-%d"):format(shoal.getpid(), counter)
    os.execute("rm -rf " .. H.q(e.archive_dir))
    e.server = assert(shoal.archive.server(e.ctx, e.archive_dir))
    e.arc = assert(shoal.archive.connect(e.client))
    local close = e.close
    function e:close()
        if not self.closed then
            self.arc:close()
            self.server:close()
            close(self)
            os.execute("rm -rf " .. H.q(self.archive_dir))
        end
    end
    return e
end

-- Runs after each test: closes what a failing test left open.
function H.cleanup()
    for e in pairs(open_envs) do
        pcall(e.close, e)
    end
end

-- Drains a subscription into a list of strings until `count` arrived.
function H.drain(sub, count, timeout_s)
    local got = {}
    H.wait_until(function()
        for _, f in sub:poll_batch(64) do
            got[#got + 1] = ffi.string(f.data, f.length)
        end
        return #got >= count
    end, timeout_s or 5, ("%d messages (got %d)"):format(count, #got))
    return got
end

-- ------------------------------------------------------------ processes

local function shell_quote(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
H.q = shell_quote

-- Starts `cmd` in the background; returns a handle with :done(), :wait(timeout)
-- and :output(). The exit code is written to a file when it ends.
function H.spawn(cmd, env)
    counter = counter + 1
    local base = ("/tmp/shoal-luatest-%d-%d"):format(shoal.getpid(), counter)
    local p = { out = base .. ".out", rcfile = base .. ".rc", cmd = cmd }
    os.remove(p.rcfile)
    local prefix = ""
    for k, v in pairs(env or {}) do
        prefix = prefix .. k .. "=" .. shell_quote(v) .. " "
    end
    -- sh runs cmd in the background, records its pid, waits and writes the code
    local inner = prefix .. cmd .. " > " .. p.out .. " 2>&1 & echo $! > " .. base .. ".pid; wait $!; echo $? > "
        .. p.rcfile .. ".tmp; mv " .. p.rcfile .. ".tmp " .. p.rcfile
    os.remove(base .. ".pid")
    os.execute("sh -c " .. shell_quote(inner) .. " > /dev/null 2>&1 &")
    H.wait_until(function()
        local f = io.open(base .. ".pid")
        if f then
            p.pid = tonumber(f:read("*l"))
            f:close()
        end
        return p.pid
    end, 5, "spawn of " .. cmd)
    os.remove(base .. ".pid")
    function p:done()
        local f = io.open(self.rcfile)
        if f then
            self.rc = tonumber(f:read("*l"))
            f:close()
            return true
        end
        return false
    end
    function p:wait(timeout_s)
        H.wait_until(function() return self:done() end, timeout_s or 30, "process: " .. self.cmd)
        return self.rc, self:output()
    end
    function p:output()
        local f = io.open(self.out)
        if not f then
            return ""
        end
        local s = f:read("*a")
        f:close()
        return s
    end
    function p:kill()
        if self.pid and not self:done() then
            os.execute("kill -TERM " .. self.pid .. " 2>/dev/null")
        end
    end
    function p:remove()
        os.remove(self.out)
        os.remove(self.rcfile)
    end
    return p
end

-- Runs a command to completion and returns its exit code and output.
function H.run(cmd)
    local f = io.popen(cmd .. " 2>&1; echo \"rc=$?\"")
    local out = f:read("*a")
    f:close()
    local rc = tonumber(out:match("rc=(%d+)%s*$"))
    return rc, (out:gsub("rc=%d+%s*$", ""))
end

-- ------------------------------------------------------------- suites

function H.suite()
    local s = { tests = {} }
    function s:test(name, fn)
        self.tests[#self.tests + 1] = { name = name, fn = fn }
    end
    return s
end

-- A test file's first line: local H, T, shoal = require("helper").start()
function H.start()
    return H, H.suite(), H.shoal
end

return H
