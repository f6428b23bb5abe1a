-- Spy subscriptions and untethered subscribers (issue 15, parts 2 and 3)
-- from LuaJIT: a spy taps a UDP publication (a strategy's orders) in place;
-- an untethered subscriber that reads slowly is dropped and rejoins while the
-- publisher and a tethered subscriber carry on.
local H, T, shoal = require("helper").start()
local ffi = require "ffi"

-- A destination port only (the publication binds an ephemeral one and
-- nobody receives there): any unlikely-to-be-used port does.
local function some_udp_port()
    return 40000 + (shoal.getpid() * 7 + os.time()) % 20000
end

local function now()
    return tonumber(shoal.now_ns()) / 1e9
end

local seq_buf = ffi.new("int64_t[4]")
local function seq_message(n)
    seq_buf[0] = n
    return ffi.cast("const uint8_t *", seq_buf), 32
end
local function seq_of(f)
    return tonumber(ffi.cast("const int64_t *", f.data)[0])
end

-- Polls up to limit messages of sub, counting in tally.seen and those whose
-- sequence number is not the next one in tally.errors.
local function drain_in_order(sub, limit, tally)
    for _, f in sub:poll_batch(limit) do
        if seq_of(f) ~= tally.seen then
            tally.errors = tally.errors + 1
        end
        tally.seen = tally.seen + 1
    end
end

T:test("a spy reads a UDP publication with ssc=true in place, every message in order", function()
    local e = H.env({ term_length = "64k" })
    local port = some_udp_port()
    local sources = {}
    local tap = assert(e.client:add_subscription(("aeron-spy:aeron:udp?endpoint=127.0.0.1:%d"):format(port), 3101,
        function(image) sources[#sources + 1] = image.source_identity end))
    local orders = assert(e.client:add_publication(("aeron:udp?endpoint=127.0.0.1:%d|ssc=true"):format(port), 3101,
        true))
    H.wait_until(function() return orders:is_connected() end, 5, "ssc connection")
    local sent, tapped = 0, { seen = 0, errors = 0 }
    H.wait_until(function()
        if sent < 3000 and orders:offer(seq_message(sent)) then
            sent = sent + 1
        end
        drain_in_order(tap, 64, tapped)
        return tapped.seen >= 3000
    end, 20, "3000 orders through the spy")
    H.eq(tapped.errors, 0, "orders out of order")
    H.eq(#sources, 1, "one image")
    H.eq(sources[1], "aeron:ipc", "a spy's source identity")
    e:close()
end)

T:test("a spy on aeron:ipc is refused with a clear error", function()
    local e = H.env()
    -- A bad URI is a programming error: raised, as for any invalid argument.
    H.raises("a spy needs an aeron:udp channel", e.client.add_subscription, e.client, "aeron-spy:aeron:ipc", 3102)
    e:close()
end)

T:test("tether=false: a slow subscriber is dropped and rejoins later, the rest carries on", function()
    local e = H.env()
    local uri = "aeron:ipc?term-length=64k"
    local joins, drops = {}, 0
    local slow = assert(e.client:add_subscription(
        uri .. "|tether=false|untethered-window-limit-timeout=200ms|untethered-resting-timeout=200ms", 3103,
        function(image) joins[#joins + 1] = image.join_position end,
        function() drops = drops + 1 end))
    local fast = assert(e.client:add_subscription(uri, 3103))
    local pub = assert(e.client:add_publication(uri, 3103, true))
    H.wait_until(function() return pub:is_connected() and fast:is_connected() and slow:is_connected() end, 5,
        "connection")
    local published, fast_tally = 0, { seen = 0, errors = 0 }
    local slow_seen, jumps, jump_inside_image, last = 0, 0, 0, nil
    local events_at_last = 0
    local next_slow = now()
    local stop = now() + 2.5
    while now() < stop do
        for _ = 1, 64 do
            if not pub:offer(seq_message(published)) then
                break
            end
            published = published + 1
        end
        drain_in_order(fast, 256, fast_tally)
        if now() >= next_slow then
            next_slow = now() + 0.02
            for _, f in slow:poll_batch(1) do
                local s = seq_of(f)
                if last ~= nil and s ~= last + 1 then
                    jumps = jumps + 1
                    if s < last or #joins == events_at_last then
                        jump_inside_image = jump_inside_image + 1
                    end
                end
                last, events_at_last = s, #joins
                slow_seen = slow_seen + 1
            end
        end
    end
    H.wait_until(function()
        drain_in_order(fast, 256, fast_tally)
        return fast_tally.seen >= published
    end, 5, "the fast subscriber drains")
    print(("lua untethered: published %d, fast %d (%d out of order); slow read %d, dropped %d times, %d joins, %d "
        .. "jumps"):format(published, fast_tally.seen, fast_tally.errors, slow_seen, drops, #joins, jumps))
    H.eq(fast_tally.seen, published, "the tethered subscriber got everything")
    H.eq(fast_tally.errors, 0, "in order")
    H.ok(drops >= 1, "dropped at least once")
    H.ok(#joins >= 2, "rejoined at least once")
    for i = 2, #joins do
        H.ok(joins[i] > joins[i - 1], "each rejoin later in the stream")
    end
    H.ok(jumps >= 1, "the slow reader skipped what it missed")
    H.eq(jump_inside_image, 0, "jumps only forward, only at a rejoin")
    e:close()
end)

return T
