#!/usr/bin/env luajit
--[[
bench.lua: offer and poll_batch rates for 32-byte messages from LuaJIT, side
by side with the same loop in C (bench_c.c, compiled here and called through
the FFI once per run), on the same embedded driver, publication and
subscription, in the same process and run.

  luajit bindings/lua/bench.lua [--count N] [--runs R] [--burst B] [--len L] [--term T]

The loop (identical in both languages), one thread: offer B messages of L
bytes (each carrying its sequence number; back pressure / admin action are
retried), then drain them with poll_batch, checking the sequence numbers.
Time in each phase is summed; rates are messages / phase time. Each of R runs
sends N messages through Lua, then N through C (alternating order per run).
Prints the median and the min-max spread over the runs.
]]
-- this script's directory, first on package.path (before any require)
local HERE = debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or "."
package.path = HERE .. "/?.lua;" .. package.path

local ffi = require "ffi"
local shoal = require "shoal"

local opts = { count = 5000000, runs = 5, burst = 256, len = 32, term = "16m" }
local i = 1
while i <= #arg do
    local k, v = arg[i]:match("^%-%-(%w+)$"), arg[i + 1]
    if not k or opts[k] == nil or v == nil then
        io.stderr:write("usage: bench.lua [--count N] [--runs R] [--burst B] [--len L] [--term T]\n")
        os.exit(2)
    end
    opts[k] = tonumber(v) or v
    i = i + 2
end

-- ---------------------------------------------------------- the C twin

local function sh(cmd)
    local ok = os.execute(cmd)
    return ok == 0 or ok == true
end

local root = HERE .. "/../.."
local libdir = shoal.libpath:match("^(.*)/[^/]*$")
if not libdir then
    io.stderr:write("bench: libshoal was found by the system loader; set SHOAL_LIB to a build tree's libshoal.so.0\n")
    os.exit(2)
end
local so = libdir .. "/lua/libshoal_bench_c.so"
sh("mkdir -p '" .. libdir .. "/lua'")
local cc = os.getenv("CC") or "cc"
local compile = ("%s -std=gnu99 -O2 -fPIC -shared -Wall -Wextra -I'%s/core/include' '%s/bench_c.c' -o '%s' -L'%s' -l:libshoal.so.0 -Wl,-rpath,'%s'")
    :format(cc, root, HERE, so, libdir, libdir)
if not sh(compile) then
    io.stderr:write("bench: cannot compile bench_c.c: " .. compile .. "\n")
    os.exit(1)
end
ffi.cdef[[
int shoal_bench_c_run(shoal_publication_t *pub, shoal_subscription_t *sub, long count, int burst, int msg_len,
    double *offer_s, double *poll_s);
]]
local bench_c = ffi.load(so)

-- ---------------------------------------------------------- the Lua loop

local now_ns = shoal.now_ns
local BACK_PRESSURED, ADMIN_ACTION = shoal.BACK_PRESSURED, shoal.ADMIN_ACTION
local i64p = ffi.typeof("int64_t *")
local ci64p = ffi.typeof("const int64_t *")

local function lua_run(pub, sub, count, burst, len)
    local msg = ffi.new("uint8_t[?]", 256)
    ffi.fill(msg, 256, 120)
    local seqp = ffi.cast(i64p, msg)
    local t_offer, t_poll = 0, 0
    local sent, received, errors = 0, 0, 0
    while sent < count do
        local n = math.min(burst, count - sent)
        local t0 = now_ns()
        for k = 0, n - 1 do
            seqp[0] = sent + k
            while true do
                local pos, _, code = pub:offer(msg, len)
                if pos then
                    break
                end
                if code ~= BACK_PRESSURED and code ~= ADMIN_ACTION then
                    error("offer failed: " .. tostring(code))
                end
            end
        end
        sent = sent + n
        local t1 = now_ns()
        while received < sent do
            for _, f in sub:poll_batch(256) do
                if ffi.cast(ci64p, f.data)[0] ~= received or f.length ~= len then
                    errors = errors + 1
                end
                received = received + 1
            end
        end
        local t2 = now_ns()
        t_offer = t_offer + (t1 - t0)
        t_poll = t_poll + (t2 - t1)
    end
    return t_offer / 1e9, t_poll / 1e9, errors
end

local function c_run(pub, sub, count, burst, len)
    local o, p = ffi.new("double[1]"), ffi.new("double[1]")
    local errors = bench_c.shoal_bench_c_run(pub.h, sub.h, count, burst, len, o, p)
    if errors < 0 then
        error("C bench failed: " .. shoal.errmsg())
    end
    return o[0], p[0], errors
end

-- ---------------------------------------------------------- run

local dir = ("/dev/shm/shoal-luabench-%d"):format(shoal.getpid())
local ctx = shoal.context({ dir = dir, dir_delete_on_shutdown = true })
local driver = assert(shoal.driver(ctx))
local client = assert(shoal.client(ctx))
local uri = "aeron:ipc?term-length=" .. opts.term
local sub = assert(client:add_subscription(uri, 77))
local pub = assert(client:add_publication(uri, 77, true))
while not pub:is_connected() do
    shoal.sleep(0.001)
end

local function median(t)
    local s = {}
    for k, v in ipairs(t) do
        s[k] = v
    end
    table.sort(s)
    local n = #s
    return n % 2 == 1 and s[(n + 1) / 2] or (s[n / 2] + s[n / 2 + 1]) / 2, s[1], s[n]
end

io.write(("bench: %d runs x %d messages of %d bytes, bursts of %d, %s, exclusive publication, %s, %s\n"):format(
    opts.runs, opts.count, opts.len, opts.burst, uri, jit and jit.version or _VERSION, shoal.libpath))
-- warm up both (JIT traces, page faults in the log)
lua_run(pub, sub, math.min(opts.count, 2000000), opts.burst, opts.len)
c_run(pub, sub, math.min(opts.count, 2000000), opts.burst, opts.len)

local rates = { lua_offer = {}, lua_poll = {}, c_offer = {}, c_poll = {} }
local total_errors = 0
for run = 1, opts.runs do
    local order = run % 2 == 1 and { "lua", "c" } or { "c", "lua" }
    for _, which in ipairs(order) do
        local o, p, e = (which == "lua" and lua_run or c_run)(pub, sub, opts.count, opts.burst, opts.len)
        total_errors = total_errors + e
        table.insert(rates[which .. "_offer"], opts.count / o)
        table.insert(rates[which .. "_poll"], opts.count / p)
    end
    io.write(("  run %d: LuaJIT offer %.1f M/s poll_batch %.1f M/s | C offer %.1f M/s poll_batch %.1f M/s\n"):format(
        run, rates.lua_offer[run] / 1e6, rates.lua_poll[run] / 1e6, rates.c_offer[run] / 1e6, rates.c_poll[run] / 1e6))
end

local function cell(t)
    local m, lo, hi = median(t)
    return ("%6.1f M/s (%.1f-%.1f)"):format(m / 1e6, lo / 1e6, hi / 1e6), m
end
print("")
print(("| %-26s | %-24s | %-24s | %-8s |"):format("32-byte messages", "LuaJIT median (min-max)", "C median (min-max)",
    "LuaJIT/C"))
print("|" .. ("-"):rep(28) .. "|" .. ("-"):rep(26) .. "|" .. ("-"):rep(26) .. "|" .. ("-"):rep(10) .. "|")
for _, row in ipairs({ { "offer (exclusive)", "offer" }, { "poll_batch (iterator)", "poll" } }) do
    local lc, lm = cell(rates["lua_" .. row[2]])
    local cc_, cm = cell(rates["c_" .. row[2]])
    print(("| %-26s | %-24s | %-24s | %7.0f%% |"):format(row[1], lc, cc_, 100 * lm / cm))
end
print(("\nsequence errors: %d"):format(total_errors))

client:close()
driver:close()
ctx:close()
os.exit(total_errors == 0 and 0 or 1)
