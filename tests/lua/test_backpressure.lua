-- Expected failures come back as nil, message, code; nothing blocks.
local H, T, shoal = require("helper").start()
local ffi = require "ffi"

T:test("not connected without a subscriber", function()
    local e = H.env()
    local pub = assert(e.client:add_publication(H.URI, 3001, true))
    H.ok(not pub:is_connected(), "not connected")
    H.fails(shoal.NOT_CONNECTED, "not connected", pub:offer("x"))
    H.fails(shoal.NOT_CONNECTED, "not connected", pub:try_claim(8))
end)

T:test("not connected as soon as the last subscriber closes (nothing written for nobody)", function()
    local e = H.env()
    local pub, sub = e:pubsub(3004, true)
    H.ok(pub:offer("before"), "offer while connected")
    H.eq(#H.drain(sub, 1), 1, "delivered")
    sub:close()
    H.wait_until(function() return not pub:is_connected() end, 5, "disconnection")
    H.fails(shoal.NOT_CONNECTED, "not connected", pub:offer("after"))
    H.fails(shoal.NOT_CONNECTED, "not connected", pub:try_claim(8))
    H.ok(pub:position_limit() <= pub:position(), "limit dropped to the consumed position")
    -- a subscriber that comes back revives it
    local again = assert(e.client:add_subscription(H.URI, 3004))
    H.wait_until(function() return pub:offer("again") end, 5, "offer after resubscribing")
    H.eq(H.drain(again, 1)[1], "again", "delivered to the new subscriber")
end)

T:test("back pressure when the subscriber does not poll, relieved by polling", function()
    local e = H.env()
    local pub, sub = e:pubsub(3002, true)
    local msg = ("x"):rep(32)
    local sent, pos, err, code = 0, nil, nil, nil
    for _ = 1, 100000 do
        pos, err, code = pub:offer(msg)
        if not pos then
            break
        end
        sent = sent + 1
    end
    H.fails(shoal.BACK_PRESSURED, "back pressured", pos, err, code)
    H.ok(sent > 100 and sent < 2048, "a 64k term's window fills (" .. sent .. " sent)")
    H.fails(shoal.BACK_PRESSURED, "back pressured", pub:try_claim(32))
    -- nothing was lost: drain everything, then offers go through again
    local got = #H.drain(sub, sent)
    H.eq(got, sent, "all delivered")
    -- the driver raises the publisher's limit on its next duty cycle
    H.wait_until(function() return pub:offer(msg) end, 5, "offer after draining")
end)

T:test("admin action at term rotation is retryable; data crosses terms intact", function()
    local e = H.env()
    local pub, sub = e:pubsub(3003, true)
    local n, received, codes = 3000, 0, {}   -- 3000 x 96-byte frames: several 64k terms
    local buf = ffi.new("uint8_t[50]")
    local i = 0
    while received < n do
        if i < n then
            ffi.cast("int32_t *", buf)[0] = i
            local pos, msg, code = pub:offer(buf, 50)
            if pos then
                i = i + 1
            else
                H.ok(code == shoal.ADMIN_ACTION or code == shoal.BACK_PRESSURED, "retryable code, got " .. tostring(msg))
                codes[msg] = (codes[msg] or 0) + 1
            end
        end
        for _, f in sub:poll_batch(64) do
            H.eq(ffi.cast("const int32_t *", f.data)[0], received, "sequence")
            received = received + 1
        end
    end
    H.ok((codes["admin action"] or 0) >= 1, "saw admin action at least once")
    H.ok(pub:position() > 3 * 65536, "crossed several terms")
end)

return T
