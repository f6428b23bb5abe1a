-- shoal-lua --replay: the live strategy unchanged over a recording. The
-- recording is made here (an embedded archive server records the C feed
-- while the strategy trades live in another process); the backtest must send
-- the live run's orders, drive on_timer by recorded time, pace with --rate,
-- and refuse bad input clearly.
local H, T, shoal = require("helper").start()
local ffi = require "ffi"

package.path = H.ROOT .. "/examples/lua/?.lua;" .. package.path
local msg = require "messages"

local SHOAL_LUA = H.q(H.LUA_DIR .. "/shoal-lua")
local CHILD_ENV = { SHOAL_LIB = shoal.libpath, LUAJIT = H.LUAJIT }
local STRATEGY = H.q(H.ROOT .. "/examples/lua/strategy.lua")

-- The messages shoal-lua --capture wrote: a little-endian uint32 length, then the bytes.
local function read_capture(path)
    local f = assert(io.open(path, "rb"))
    local data = f:read("*a")
    f:close()
    local out, at = {}, 1
    while at <= #data do
        local n = ffi.cast("const uint32_t *", ffi.cast("const char *", data) + at - 1)[0]
        out[#out + 1] = data:sub(at + 4, at + 3 + n)
        at = at + 4 + n
    end
    return out
end

local function order_of(bytes)
    local o = ffi.cast(msg.OrderPtr, ffi.cast("const char *", bytes))
    return { id = tonumber(o.id), quote_seq = tonumber(o.quote_seq), side = o.side, qty = o.qty, price = o.price,
        ts_ns = tonumber(o.ts_ns), symbol = ffi.string(o.symbol) }
end

local function wait_recorded(e, stream, length)
    local d
    H.wait_until(function()
        local list = assert(e.arc:recordings())
        for _, r in ipairs(list) do
            if r.stream_id == stream then
                d = r
            end
        end
        return d and assert(e.arc:recording_position(d.recording_id)) - d.start_position >= length
    end, 30, "the recording of stream " .. stream)
    return d
end

-- The descriptor of a stopped recording (stop position and time set): the
-- one wait_recorded saw may still be active (stop time -1) when the feed's
-- image had not gone yet.
local function stopped(e, id)
    local d
    H.wait_until(function()
        for _, r in ipairs(assert(e.arc:recordings())) do
            if r.recording_id == id and r.stop_position >= 0 then
                d = r
            end
        end
        return d ~= nil
    end, 10, "recording " .. id .. " stopped")
    return d
end

T:test("backtest: strategy.lua over the recorded C feed sends exactly the live run's orders", function()
    local publisher = H.BUILD .. "/basic_publisher"
    H.ok(io.open(publisher), "basic_publisher built in " .. H.BUILD)
    local e = H.archive_env()
    local count = 5000
    local orders_sub = assert(e.client:add_subscription("aeron:ipc", msg.ORDER_STREAM))
    local strat = H.spawn(("%s --dir %s %s 20 80 %d"):format(SHOAL_LUA, H.q(e.dir), STRATEGY, count), CHILD_ENV)
    H.wait_until(function() return strat:output():find("strategy: MA cross", 1, true) end, 10, "strategy start")
    local sub_id = assert(e.arc:start_recording("aeron:ipc", msg.QUOTE_STREAM))
    local feed = H.spawn(("%s -d %s -s %d -x -l 32 -n %d"):format(H.q(publisher), H.q(e.dir), msg.QUOTE_STREAM,
        count), CHILD_ENV)
    local live = {}
    H.wait_until(function()
        for _, f in orders_sub:poll_batch(64) do
            live[#live + 1] = order_of(ffi.string(f.data, f.length))
        end
        return strat:done() and feed:done()
    end, 60, "the live run")
    for _, f in orders_sub:poll_batch(64) do
        live[#live + 1] = order_of(ffi.string(f.data, f.length))
    end
    local live_out = strat:output()
    H.eq(strat.rc, 0, "live strategy: " .. live_out)
    H.eq(feed.rc, 0, "feed: " .. feed:output())
    strat:remove()
    feed:remove()
    local d = wait_recorded(e, msg.QUOTE_STREAM, count * 64)
    assert(e.arc:stop_recording(sub_id))
    d = stopped(e, d.recording_id)

    local capture = "/tmp/shoal-luatest-capture-" .. shoal.getpid()
    os.execute("rm -rf " .. H.q(capture) .. "; mkdir -p " .. H.q(capture))
    local rc, out = H.run(("env SHOAL_LIB=%s %s --replay %s:%d --capture %s %s 20 80 %d"):format(H.q(shoal.libpath),
        SHOAL_LUA, H.q(e.archive_dir), d.recording_id, H.q(capture), STRATEGY, count))
    H.eq(rc, 0, "backtest: " .. out)
    local back = {}
    for _, m in ipairs(read_capture(capture .. "/orders.msgs")) do
        H.eq(#m, msg.ORDER_SIZE, "order size")
        back[#back + 1] = order_of(m)
    end
    os.execute("rm -rf " .. H.q(capture))
    H.ok(#live >= 5, "the live run traded")
    H.eq(#back, #live, "orders: backtest vs live\n" .. out)
    for k, o in ipairs(back) do
        local l = live[k]
        for _, field in ipairs({ "id", "quote_seq", "side", "qty", "price", "symbol" }) do
            H.eq(o[field], l[field], ("order %d %s"):format(k, field))
        end
        H.ok(o.ts_ns >= d.start_timestamp_ns and o.ts_ns <= d.stop_timestamp_ns,
            "a backtest order is stamped with recorded time")
    end
    -- the strategy's own lines agree too (the moving averages included)
    local function order_lines(text)
        local lines = {}
        for l in text:gmatch("[^\n]+") do
            if l:match("^ORDER ") then
                lines[#lines + 1] = l
            end
        end
        return table.concat(lines, "\n")
    end
    H.eq(order_lines(out), order_lines(live_out), "ORDER lines")
    H.ok(out:find(("strategy: %d quotes, %d orders"):format(count, #live), 1, true), "summary: " .. out)
    e:close()
end)

-- A script that logs what the runner gives it: recorded time, timer ticks, positions.
local PROBE = [[
local ffi = require "ffi"
config = { subscriptions = { feed = { channel = "aeron:ipc", stream = 4101 } }, timer_ms = 100 }
local api, last, n, ticks = nil, 0, 0, {}
-- recorded times are CLOCK_REALTIME ns as Lua numbers (exact to 256 ns): printed with %.0f
function on_start(a) api = a; print(("start %.0f %d"):format(a.now_ns(), a.recording.recording_id)) end
function on_message(buf, len, header, name)
    local now = api.now_ns()
    assert(now >= last, "recorded time went back")
    assert(name == "feed")
    last = now
    n = n + 1
    if n == 1 then print(("first %.0f %d"):format(now, tonumber(header.position))) end
    if n == tonumber(os.getenv("PROBE_STOP_AT") or -1) then api.stop() end
end
function on_timer(now) ticks[#ticks + 1] = now; assert(api.now_ns() == now) end
function on_stop()
    print("messages " .. n)
    print("ticks " .. #ticks)
    for k = 2, #ticks do assert(ticks[k] - ticks[k - 1] == 100e6, "a tick every 100 ms of recorded time") end
    if #ticks > 0 then print(("first_tick %.0f"):format(ticks[1])) end
end
]]

T:test("backtest: on_timer follows recorded time, api.stop() is immediate, --rate paces", function()
    local e = H.archive_env()
    local sub_id = assert(e.arc:start_recording("aeron:ipc", 4101))
    local pub = assert(e.client:add_publication("aeron:ipc", 4101, true))
    H.wait_until(function() return pub:is_connected() end, 5, "recording subscription")
    -- 40 messages over ~0.8 s of wall (recorded) time
    for k = 1, 40 do
        H.wait_until(function() return pub:offer(("m%03d"):format(k)) end, 5, "offer")
        shoal.sleep(0.02)
    end
    local d
    H.wait_until(function()
        d = assert(e.arc:recordings())[1]
        return d and assert(e.arc:recording_position(d.recording_id)) >= pub:position()
    end, 10, "recording")
    pub:close()
    assert(e.arc:stop_recording(sub_id))
    d = assert(e.arc:recordings())[1]
    local script = os.tmpname() .. ".lua"
    local f = io.open(script, "w")
    f:write(PROBE)
    f:close()
    local spec = H.q(e.archive_dir .. ":" .. d.recording_id)
    local cmd = ("env SHOAL_LIB=%s %%s %s --replay %s %%s %s"):format(H.q(shoal.libpath), SHOAL_LUA, spec, H.q(script))
    local rc, out = H.run(cmd:format("", ""))
    H.eq(rc, 0, "replay: " .. out)
    H.eq(tonumber(out:match("messages (%d+)")), 40, "every message: " .. out)
    local span = (d.stop_timestamp_ns - d.start_timestamp_ns) / 1e9
    local ticks = tonumber(out:match("ticks (%d+)"))
    H.ok(math.abs(ticks - math.floor(span / 0.1)) <= 1, ("%d ticks over %.3f s of recording: %s"):format(ticks, span, out))
    H.eq(tonumber(out:match("first_tick (%d+)")), d.start_timestamp_ns + 100e6, "the first tick, 100 ms in")
    H.eq(tonumber(out:match("start (%d+)")), d.start_timestamp_ns, "api.now_ns() at on_start: the recording's start")

    local rc2, out2 = H.run(cmd:format("PROBE_STOP_AT=7", ""))
    H.eq(rc2, 0, "replay stopped early: " .. out2)
    H.eq(tonumber(out2:match("messages (%d+)")), 7, "nothing after api.stop(): " .. out2)

    local t0 = shoal.now_ns()
    local rc3, out3 = H.run(cmd:format("", "--rate 2"))
    local wall = (shoal.now_ns() - t0) / 1e9
    H.eq(rc3, 0, "--rate 2: " .. out3)
    H.ok(wall >= span / 2 * 0.9, ("--rate 2 took %.3f s for %.3f s of recording"):format(wall, span))
    os.remove(script)
    e:close()
end)

T:test("backtest: bad specs, unknown recordings and streams no subscription has fail clearly", function()
    local e = H.archive_env()
    local function run(args)
        return H.run(("env SHOAL_LIB=%s %s %s %s"):format(H.q(shoal.libpath), SHOAL_LUA, args, STRATEGY))
    end
    local rc, out = run("--replay nocolon")
    H.eq(rc, 2, "bad spec: " .. out)
    H.ok(out:find("ARCHIVE_DIR:RECORDING_ID", 1, true), out)
    rc, out = run("--replay " .. H.q(e.archive_dir .. "/nothing") .. ":0")
    H.eq(rc, 3, "missing archive: " .. out)
    rc, out = run("--replay " .. H.q(e.archive_dir) .. ":42")
    H.eq(rc, 3, "unknown recording: " .. out)
    H.ok(out:find("recording 42", 1, true), out)
    rc, out = run("--replay " .. H.q(e.archive_dir) .. ":0 --embedded-driver")
    H.eq(rc, 2, "--replay with a driver option: " .. out)
    rc, out = run("--rate 2")
    H.eq(rc, 2, "--rate without --replay: " .. out)
    -- a recording of a stream strategy.lua does not subscribe to (it has one subscription: that one is fed)
    local sub_id = assert(e.arc:start_recording("aeron:ipc", 4201))
    local pub = assert(e.client:add_publication("aeron:ipc", 4201, true))
    H.wait_until(function() return pub:is_connected() end, 5, "recording subscription")
    H.wait_until(function() return pub:offer(("\0"):rep(32)) end, 5, "offer")
    H.wait_until(function() return #assert(e.arc:recordings()) == 1 end, 10, "recording listed")
    pub:close()
    assert(e.arc:stop_recording(sub_id))
    rc, out = run("--replay " .. H.q(e.archive_dir) .. ":0")
    H.eq(rc, 0, "a single subscription is fed whatever the stream: " .. out)
    e:close()
end)

return T
