#!/usr/bin/env luajit
--[[
shoal-lua: runs a strategy script on shoal under LuaJIT.

  shoal-lua [options] script.lua [script arguments...]
  shoal-lua --replay ARCHIVE_DIR:RECORDING_ID [--rate N] [--capture DIR] script.lua [args...]
  luajit bindings/lua/run.lua [options] script.lua [script arguments...]

Options (each overrides the script's `config`):
  --dir DIR            driver directory (default: config.dir, else SHOAL_DIR, else /dev/shm/shoal-$USER)
  --embedded-driver    start a media driver inside this process (default: use a running shoald)
  --set KEY=VALUE      a context setting, as shoald --set (repeatable)
  --config FILE        a Lua file returning a table merged over the script's config
  --timer-ms N         on_timer period in milliseconds (0: no timer)
  --duration SECONDS   stop after this long (default: run until stopped)
  --idle busy-spin|backoff|sleep   what the loop does when there is no work (default backoff)
  --quiet              no [shoal-lua] lines on stderr
  --replay DIR:ID      backtest: run the script over recording ID of the archive in DIR, with no
                       driver (shoal_backtest.lua tells how: on_timer follows recorded time,
                       publications are simulated and keep what the script sends)
  --rate N             with --replay: deliver at N times the recorded speed (default: as fast as it can)
  --capture DIR        with --replay: write each publication's messages to DIR/<name>.msgs

The script is a Lua chunk that defines hooks, either as globals or in a table
it returns (the table wins):
  config = {                           -- optional
    subscriptions = { quotes = { channel = "aeron:ipc", stream = 1001 } },
    publications  = { orders = { channel = "aeron:ipc", stream = 1002, exclusive = true } },
    timer_ms = 1000, batch = 64, dir = nil, embedded_driver = false, settings = { ... },
  }
  function on_start(api) end           -- api.pub.<name>, api.sub.<name>, api.client,
                                       -- api.stop(), api.now_ns(), api.args, api.shoal, api.config
  function on_message(buf, len, header, name) end  -- buf: const uint8_t*, valid during the call
  function on_timer(now_ns) end        -- every timer_ms
  function on_stop() end               -- after the loop, before handles close

Messages are read with poll_batch (no C->Lua callback), so on_message is
called from Lua and the JIT compiles the whole loop. The loop ends when a
hook calls api.stop(), after --duration, on SIGINT/SIGTERM (checked every
millisecond, then on_stop runs and everything closes cleanly), or when a hook
raises (exit status 1, with a traceback). The script's directory is put on
package.path, so it can require its own modules.
]]
-- this script's directory, first on package.path (before any require)
local HERE = debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or "."
package.path = HERE .. "/?.lua;" .. package.path

local ffi = require "ffi"
local shoal = require "shoal"

-- A script's prints are its log: line by line even into a file or a pipe
-- (whoever reads it, e.g. a supervisor waiting for a start line, sees each line when printed).
io.stdout:setvbuf("line")

local quiet = false
local function log(fmt, ...)
    if not quiet then
        io.stderr:write("[shoal-lua] " .. fmt:format(...) .. "\n")
    end
end

local function die(msg, code)
    io.stderr:write("shoal-lua: " .. msg .. "\n")
    os.exit(code or 2)
end

local USAGE = "usage: shoal-lua [--dir DIR] [--embedded-driver] [--set KEY=VALUE]... [--config FILE] "
    .. "[--timer-ms N] [--duration S] [--idle busy-spin|backoff|sleep] [--quiet] "
    .. "[--replay ARCHIVE_DIR:RECORDING_ID [--rate N] [--capture DIR]] script.lua [args...]"

-- ------------------------------------------------------------ arguments

local opts = { set = {} }
local i = 1
while i <= #arg do
    local a = arg[i]
    local function value()
        i = i + 1
        if arg[i] == nil then
            die(a .. " needs a value\n" .. USAGE)
        end
        return arg[i]
    end
    if a == "--dir" then
        opts.dir = value()
    elseif a == "--embedded-driver" then
        opts.embedded_driver = true
    elseif a == "--set" then
        local kv = value()
        local k, v = kv:match("^([^=]+)=(.*)$")
        if not k then
            die("--set expects KEY=VALUE, got " .. kv)
        end
        opts.set[k] = v
    elseif a == "--config" then
        opts.config = value()
    elseif a == "--timer-ms" then
        opts.timer_ms = tonumber(value()) or die("--timer-ms expects a number")
    elseif a == "--duration" then
        opts.duration = tonumber(value()) or die("--duration expects a number")
    elseif a == "--idle" then
        opts.idle = value()
    elseif a == "--quiet" then
        quiet = true
    elseif a == "--replay" then
        opts.replay = value()
    elseif a == "--rate" then
        opts.rate = tonumber(value())
        if not opts.rate or opts.rate <= 0 then
            die("--rate expects a number > 0 (times the recorded speed)")
        end
    elseif a == "--capture" then
        opts.capture = value()
    elseif a == "-h" or a == "--help" then
        print(USAGE)
        os.exit(0)
    elseif a:sub(1, 2) == "--" then
        die("unknown option " .. a .. "\n" .. USAGE)
    else
        break
    end
    i = i + 1
end
local script = arg[i] or die(USAGE)
if opts.replay and (opts.dir or opts.embedded_driver or next(opts.set)) then
    die("--replay runs without a driver: --dir, --embedded-driver and --set do not apply")
end
if (opts.rate or opts.capture) and not opts.replay then
    die("--rate and --capture go with --replay")
end
local script_args = {}
for k = i + 1, #arg do
    script_args[#script_args + 1] = arg[k]
end

-- ------------------------------------------------------------ the script

local sdir = script:match("^(.*)/[^/]*$") or "."
package.path = sdir .. "/?.lua;" .. package.path

local chunk, lerr = loadfile(script)
if not chunk then
    die("cannot load " .. lerr)
end
local env = setmetatable({}, { __index = _G })
setfenv(chunk, env)
local ok, returned = xpcall(chunk, debug.traceback, unpack(script_args))
if not ok then
    die("error loading " .. script .. ": " .. tostring(returned), 1)
end
local hooks = type(returned) == "table" and returned or env

local config = {}
for k, v in pairs(hooks.config or {}) do
    config[k] = v
end
if opts.config then
    local cf, cerr = loadfile(opts.config)
    if not cf then
        die("cannot load config " .. cerr)
    end
    for k, v in pairs(cf() or {}) do
        config[k] = v
    end
end
if opts.dir then config.dir = opts.dir end
if opts.embedded_driver then config.embedded_driver = true end
if opts.timer_ms then config.timer_ms = opts.timer_ms end
if opts.idle then config.idle = opts.idle end

local function check_endpoints(list, what)
    if list == nil then
        return {}
    end
    if type(list) ~= "table" then
        die(("config.%s must be a table of name = { channel = ..., stream = ... }"):format(what))
    end
    local names = {}
    for name, ep in pairs(list) do
        if type(ep) ~= "table" or type(ep.stream) ~= "number" then
            die(("config.%s.%s needs a numeric stream"):format(what, tostring(name)))
        end
        ep.channel = ep.channel or "aeron:ipc"
        names[#names + 1] = name
    end
    table.sort(names)
    return names
end
local sub_names = check_endpoints(config.subscriptions, "subscriptions")
local pub_names = check_endpoints(config.publications, "publications")

local on_message = hooks.on_message
local on_timer = hooks.on_timer
if #sub_names > 0 and type(on_message) ~= "function" then
    die(script .. " subscribes but defines no on_message(buf, len, header, name)")
end
local timer_ns = (config.timer_ms or 0) * 1e6
if timer_ns > 0 and type(on_timer) ~= "function" then
    timer_ns = 0
end
local batch = config.batch or 64
local idle_mode = config.idle or "backoff"
if idle_mode ~= "busy-spin" and idle_mode ~= "backoff" and idle_mode ~= "sleep" then
    die("--idle must be busy-spin, backoff or sleep")
end

-- ------------------------------------------------------------ signals
-- SIGINT/SIGTERM are blocked (before any thread starts, so every thread
-- inherits the mask) and polled with sigpending(): the loop then stops
-- cleanly, which a Lua-level signal hook cannot guarantee in JIT-compiled code.

if not pcall(ffi.typeof, "shoal_lua_sigset_t") then
    ffi.cdef[[
typedef struct { unsigned long val[16]; } shoal_lua_sigset_t;
int shoal_lua_sigemptyset(shoal_lua_sigset_t *set) asm("sigemptyset");
int shoal_lua_sigaddset(shoal_lua_sigset_t *set, int sig) asm("sigaddset");
int shoal_lua_sigismember(const shoal_lua_sigset_t *set, int sig) asm("sigismember");
int shoal_lua_sigprocmask(int how, const shoal_lua_sigset_t *set, shoal_lua_sigset_t *old) asm("sigprocmask");
int shoal_lua_sigpending(shoal_lua_sigset_t *set) asm("sigpending");
int shoal_lua_sched_yield(void) asm("sched_yield");
]]
end
local SIGINT, SIGTERM, SIG_BLOCK = 2, 15, 0
local Cc = ffi.C
local sigs = ffi.new("shoal_lua_sigset_t")
Cc.shoal_lua_sigemptyset(sigs)
Cc.shoal_lua_sigaddset(sigs, SIGINT)
Cc.shoal_lua_sigaddset(sigs, SIGTERM)
Cc.shoal_lua_sigprocmask(SIG_BLOCK, sigs, nil)
local pending = ffi.new("shoal_lua_sigset_t")
local function signalled()
    Cc.shoal_lua_sigpending(pending)
    if Cc.shoal_lua_sigismember(pending, SIGINT) == 1 then
        return "SIGINT"
    end
    if Cc.shoal_lua_sigismember(pending, SIGTERM) == 1 then
        return "SIGTERM"
    end
end

local api = { pub = {}, sub = {}, shoal = shoal, args = script_args, config = config, now_ns = shoal.now_ns }
local running = true
function api.stop()
    running = false
end

-- ------------------------------------------------------------ live set-up

local ctx, driver, client
local subs = {}

local function live_open()
    local settings = {}
    for k, v in pairs(config.settings or {}) do
        settings[k] = v
    end
    for k, v in pairs(opts.set) do
        settings[k] = v
    end
    if config.dir then
        settings.dir = config.dir
    end
    local ok_ctx
    ok_ctx, ctx = pcall(shoal.context, settings)
    if not ok_ctx then
        die(tostring(ctx))
    end
    if config.embedded_driver then
        local d, derr = shoal.driver(ctx)
        if not d then
            die("cannot start the embedded driver: " .. derr, 3)
        end
        driver = d
        log("embedded driver on %s", ctx:dir())
    end
    local cerr
    client, cerr = shoal.client(ctx)
    if not client then
        die(("cannot connect to a driver on %s: %s (start shoald, or use --embedded-driver)"):format(ctx:dir(), cerr),
            3)
    end
    api.client, api.dir = client, ctx:dir()
    for k, name in ipairs(sub_names) do
        local ep = config.subscriptions[name]
        local s, serr = client:add_subscription(ep.channel, ep.stream)
        if not s then
            die(("subscription %s (%s stream %d): %s"):format(name, ep.channel, ep.stream, serr), 3)
        end
        api.sub[name] = s
        subs[k] = s
        log("subscription %s: %s stream %d", name, ep.channel, ep.stream)
    end
    for _, name in ipairs(pub_names) do
        local ep = config.publications[name]
        local p, perr = client:add_publication(ep.channel, ep.stream, ep.exclusive)
        if not p then
            die(("publication %s (%s stream %d): %s"):format(name, ep.channel, ep.stream, perr), 3)
        end
        api.pub[name] = p
        log("publication %s: %s stream %d%s", name, ep.channel, ep.stream, ep.exclusive and " (exclusive)" or "")
    end
end

-- ------------------------------------------------------------ the live loop

local now_ns, sleep = shoal.now_ns, shoal.sleep

local function live_loop()
    local nsubs = #subs
    local start = now_ns()
    local deadline = opts.duration and (start + opts.duration * 1e9) or math.huge
    local next_timer = timer_ns > 0 and (start + timer_ns) or math.huge
    local next_check = start + 1e6
    local idle = 0
    local messages = 0
    while running do
        local work = 0
        for k = 1, nsubs do
            local name = sub_names[k]
            for _, f in subs[k]:poll_batch(batch) do
                on_message(f.data, tonumber(f.length), f.header, name)
                work = work + 1
            end
        end
        messages = messages + work
        if work > 0 then
            idle = 0
        else
            idle = idle + 1
            if idle_mode == "backoff" then
                if idle > 200 then
                    sleep(idle > 2000 and 0.001 or 0.00005)
                elseif idle > 100 then
                    Cc.shoal_lua_sched_yield()
                end
            elseif idle_mode == "sleep" then
                sleep(0.001)
            end
        end
        local now = now_ns()
        if now >= next_timer then
            on_timer(now)
            next_timer = next_timer + timer_ns
            if next_timer <= now then
                next_timer = now + timer_ns   -- skip missed ticks
            end
        end
        if now >= next_check then
            next_check = now + 1e6
            local sig = signalled()
            if sig then
                log("%s: stopping", sig)
                running = false
            end
            if client:is_closed() then
                error("the client lost its driver (driver timeout)", 0)
            end
        end
        if now >= deadline then
            running = false
        end
    end
    return messages, (now_ns() - start) / 1e9
end

-- ------------------------------------------------------------ the replay (backtest)

local backtest, replay
local recorded_now = 0

local function replay_open()
    backtest = require "shoal_backtest"
    replay = backtest.open(shoal, { spec = opts.replay, config = config, sub_names = sub_names,
        pub_names = pub_names, api = api, log = log, die = die })
    recorded_now = replay.desc.start_timestamp_ns
    api.now_ns = function()
        return recorded_now
    end
end

local function replay_loop()
    local messages, secs, ended = backtest.loop(shoal, { state = replay, on_message = on_message, on_timer = on_timer,
        timer_ns = timer_ns, batch = batch, rate = opts.rate, duration = opts.duration, signalled = signalled,
        log = log, running = function() return running end, set_now = function(t) recorded_now = t end })
    if ended then
        log("end of recording %d at position %d", replay.desc.recording_id, replay.cursor:position())
    end
    return messages, secs
end

-- ------------------------------------------------------------ run

local status = 0
local function run_hook(name, ...)
    local fn = hooks[name]
    if type(fn) == "function" then
        local hok, herr = xpcall(fn, debug.traceback, ...)
        if not hok then
            io.stderr:write(("shoal-lua: %s failed: %s\n"):format(name, tostring(herr)))
            status = 1
            return false
        end
    end
    return true
end

if opts.replay then
    replay_open()
else
    live_open()
end
if run_hook("on_start", api) then
    local lok, messages, secs = xpcall(opts.replay and replay_loop or live_loop, debug.traceback)
    if lok then
        log("loop ended: %d messages in %.3f s", messages, secs)
    else
        io.stderr:write("shoal-lua: " .. tostring(messages) .. "\n")
        status = 1
    end
    run_hook("on_stop")
end

if replay then
    if opts.capture then
        local cok, cerr = backtest.capture(replay, opts.capture, log)
        if not cok then
            io.stderr:write("shoal-lua: --capture: " .. tostring(cerr) .. "\n")
            status = 1
        end
    end
    backtest.close(replay)
else
    client:close()
    if driver then
        driver:close()
    end
    ctx:close()
end
io.stdout:flush()
os.exit(status)
