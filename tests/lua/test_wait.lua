-- sub:wait(timeout): no spinning; woken by a publisher in another process.
local H, T, shoal = require("helper").start()
local ffi = require "ffi"

ffi.cdef [[
typedef struct { long sec; long nsec; } shoal_test_wait_ts;
int shoal_test_wait_clock(int clk, shoal_test_wait_ts *ts) __asm__("clock_gettime");
]]
local CLOCK_THREAD_CPUTIME_ID = 3
local function thread_cpu_s()
    local ts = ffi.new("shoal_test_wait_ts")
    ffi.C.shoal_test_wait_clock(CLOCK_THREAD_CPUTIME_ID, ts)
    return tonumber(ts.sec) + tonumber(ts.nsec) * 1e-9
end

local BUILD = os.getenv("SHOAL_BUILD_DIR") or (H.ROOT .. "/build/lua-core")

T:test("false after the timeout, true with data, nothing consumed", function()
    local e = H.env()
    local pub, sub = e:pubsub(4001, true)
    H.eq(sub:wait(0), false, "just look: nothing")
    local t0 = shoal.now_ns()
    H.eq(sub:wait(0.05), false, "timed out")
    H.ok(shoal.now_ns() - t0 >= 0.05e9, "waited the timeout")
    H.ok(pub:offer("there"), "offer")
    H.eq(sub:wait(0), true, "data: true at once")
    H.eq(sub:wait(), true, "no timeout: true at once")
    H.eq(H.drain(sub, 1)[1], "there", "still there for the poll")
    H.eq(sub:wait(0), false, "consumed")
end)

T:test("woken by another process's offer, idle without CPU", function()
    local e = H.env()
    local sub = assert(e.client:add_subscription(H.URI, 4002))
    local p = H.spawn(("sleep 0.4; %s/basic_publisher -d %s -c %s -s 4002 -n 1"):format(BUILD, H.q(e.dir),
        H.q(H.URI)))
    local wall, cpu = shoal.now_ns(), thread_cpu_s()
    H.eq(sub:wait(20), true, "woken")
    wall, cpu = (shoal.now_ns() - wall) * 1e-9, thread_cpu_s() - cpu
    H.ok(cpu * 5 < wall, ("idle wait: %.3f s CPU in %.3f s"):format(cpu, wall))
    H.eq(#H.drain(sub, 1), 1, "the message")
    p:wait(10)
    p:remove()
end)

T:test("bad timeout raises, closed subscription raises", function()
    local e = H.env()
    local _, sub = e:pubsub(4003, true)
    H.raises("timeout", function() sub:wait(-1) end)
    H.raises("timeout", function() sub:wait("1") end)
    sub:close()
    H.raises("closed", function() sub:wait(0) end)
end)

return T
