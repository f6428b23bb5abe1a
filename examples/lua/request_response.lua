-- Request/response with shoal's LuaJIT helpers: a responder process and a
-- requester, with round-trip times (docs/response-channels.md).
--
--   luajit examples/lua/request_response.lua [ipc|udp] [requests] [size]
--
-- The parent hosts an embedded driver and the requester (client:requester);
-- a child luajit serves (client:responder, echoing the payload). Prints the
-- median, p90 and p99 round trip of req:request() in microseconds, one
-- request at a time. SHOAL_LIB names the libshoal.so.0 to use if the module
-- does not find it.
local here = debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or "."
package.path = here .. "/../../bindings/lua/?.lua;" .. package.path
local shoal = require "shoal"

if arg[1] == "--serve" then
    local dir, request_channel, response_channel, total = arg[2], arg[3], arg[4], tonumber(arg[5])
    local client = assert(shoal.client({ dir = dir }))
    local rsp = assert(client:responder{ request_channel = request_channel, request_stream_id = 1,
        response_channel = response_channel, response_stream_id = 2,
        handler = function(data) return data end })
    io.stdout:write("ready\n")
    io.stdout:flush()
    local deadline = shoal.now_ns() + 120e9
    local idle_since = nil
    while rsp.served < total and shoal.now_ns() < deadline do
        if rsp:poll(64) == 0 then
            -- Poll 50 us, then no CPU while idle (shoal_subscription_wait).
            local now = shoal.now_ns()
            idle_since = idle_since or now
            if now - idle_since > 50e3 then
                rsp.requests:wait(0.01)
            end
        else
            idle_since = nil
        end
    end
    rsp:close()
    client:close()
    os.exit(0)
end

local kind, n, size = arg[1] or "ipc", tonumber(arg[2] or 10000), tonumber(arg[3] or 32)
local request_channel, response_channel = "aeron:ipc", "aeron:ipc"
if kind == "udp" then
    local base = 20000 + (shoal.getpid() * 7) % 30000
    request_channel = ("aeron:udp?endpoint=127.0.0.1:%d"):format(base)
    response_channel = ("aeron:udp?control=127.0.0.1:%d"):format(base + 1)
end
local dir = ("/dev/shm/shoal-rr-lua-%d"):format(shoal.getpid())
local ctx = shoal.context({ dir = dir, dir_delete_on_shutdown = true, term_length = "1m", ipc_term_length = "1m" })
local driver = assert(shoal.driver(ctx))
local client = assert(shoal.client(ctx))
local warmup = math.min(1000, n)
local child = io.popen(("%s %q --serve %q %q %q %d"):format(os.getenv("LUAJIT") or "luajit", arg[0], dir,
    request_channel, response_channel, n + warmup))
assert(child:read("*l") == "ready", "responder did not start")

local req = assert(client:requester{ request_channel = request_channel, request_stream_id = 1,
    response_channel = response_channel, response_stream_id = 2 })
assert(req:wait_connected(10))
local payload = string.rep("x", size)
for _ = 1, warmup do
    assert(req:request(payload, 5))
end
local rtts = {}
for i = 1, n do
    local t0 = shoal.now_ns()
    local answer = assert(req:request(payload, 5))
    rtts[i] = shoal.now_ns() - t0
    assert(answer == payload)
end
child:close()
req:close()
client:close()
driver:close()
ctx:close()
table.sort(rtts)
local function pct(p)
    return rtts[math.min(#rtts, math.floor(p / 100 * #rtts) + 1)] / 1000
end
print(("lua request/response over %s: %d requests of %d bytes, round trip median %.1f us, p90 %.1f us, " ..
    "p99 %.1f us (requester and responder: separate LuaJIT processes)"):format(kind, n, size, pct(50), pct(90),
    pct(99)))
