-- Publication and subscription round trips through an embedded driver.
local H, T, shoal = require("helper").start()
local ffi = require "ffi"

T:test("offer a string and a cdata buffer, poll_batch sees both in order", function()
    local e = H.env()
    local pub, sub = e:pubsub(1001, true)
    local p1 = assert(pub:offer("hello"))
    local buf = ffi.new("uint8_t[4]", 1, 2, 3, 4)
    local p2 = assert(pub:offer(buf, 4))
    local p3 = assert(pub:offer("abcdef", 3))      -- a prefix of a string
    H.ok(p1 < p2 and p2 < p3, "positions increase")
    local got = H.drain(sub, 3)
    H.eq(got[1], "hello", "first")
    H.eq(got[2], "\1\2\3\4", "second")
    H.eq(got[3], "abc", "third")
    H.eq(pub:position(), p3, "publication position")
end)

T:test("fragment views carry the header fields", function()
    local e = H.env()
    local pub, sub = e:pubsub(1002, false)
    local pos = assert(pub:offer("x"))
    local seen
    H.wait_until(function()
        for i, f in sub:poll_batch(8) do
            H.eq(i, 1, "index")
            seen = { f.header.session_id, f.header.stream_id, tonumber(f.header.position), f.header.flags,
                tonumber(f.length) }
        end
        return seen
    end)
    H.eq(seen[1], pub:session_id(), "session id")
    H.eq(seen[2], 1002, "stream id")
    H.eq(seen[3], pos, "position")
    H.eq(seen[4], bit.bor(shoal.FLAG_BEGIN, shoal.FLAG_END), "flags")
    H.eq(seen[5], 1, "length")
    H.eq(pub:stream_id(), 1002, "pub stream id")
    H.eq(sub:stream_id(), 1002, "sub stream id")
    H.eq(sub:image_count(), 1, "image count")
end)

-- An exclusive publication and a subscription on stream in a new env (closed
-- after the test), "m1" .. "m<count>" offered.
local function offered_m(stream, count)
    local e = H.env()
    local pub, sub = e:pubsub(stream, true)
    for i = 1, count do
        assert(pub:offer("m" .. i))
    end
    return pub, sub
end

T:test("poll with a callback, limit respected", function()
    local pub, sub = offered_m(1003, 10)
    local got = {}
    local function on(buf, len, hdr)
        H.eq(hdr.stream_id, 1003, "header stream id")
        got[#got + 1] = ffi.string(buf, len)
    end
    H.wait_until(function() return sub:poll(on, 3) > 0 end)
    H.eq(#got, 3, "first poll delivers at most 3")
    H.wait_until(function()
        sub:poll(on, 100)
        return #got == 10
    end)
    for i = 1, 10 do
        H.eq(got[i], "m" .. i, "message " .. i)
    end
end)

T:test("a handler error is re-raised, the message consumed, later ones kept", function()
    local pub, sub = offered_m(1004, 3)
    local got = {}
    H.raises("boom", sub.poll, sub, function(buf, len)
        local s = ffi.string(buf, len)
        if s == "m2" then
            error("boom")
        end
        got[#got + 1] = s
    end, 10)
    H.eq(table.concat(got, ","), "m1", "delivered before the error")
    local got = H.drain(sub, 1)
    H.eq(got[1], "m3", "the message after the failing one")
end)

T:test("poll from a hot loop that the JIT compiled while idle (no 'bad callback')", function()
    local rc, out = H.run(("env SHOAL_LIB=%s %s %s %s"):format(H.q(shoal.libpath), H.LUAJIT,
        H.q(H.ROOT .. "/tests/lua/jit_poll_check.lua"), H.q(H.ROOT .. "/tests/lua")))
    H.eq(rc, 0, "exit status: " .. out)
    H.ok(out:find("jit_poll_check: got 1", 1, true), "output: " .. out)
end)

T:test("poll_batch_n returns the preallocated array", function()
    local e = H.env()
    local pub, sub = e:pubsub(1005, true)
    for i = 1, 5 do
        assert(pub:offer(("%04d"):format(i)))
    end
    local total = {}
    H.wait_until(function()
        local n, frags = assert(sub:poll_batch_n(2))
        H.ok(n <= 2, "at most max")
        for j = 0, n - 1 do
            total[#total + 1] = ffi.string(frags[j].data, frags[j].length)
        end
        return #total == 5
    end)
    H.eq(table.concat(total, ","), "0001,0002,0003,0004,0005", "all in order")
end)

T:test("poll_batch grows its array beyond the default 256", function()
    local e = H.env()
    local pub, sub = e:pubsub(1006, true)
    for i = 1, 400 do
        assert(pub:offer(tostring(i)))
    end
    local n = 0
    local max_batch = 0
    H.wait_until(function()
        local k = 0
        for _, f in sub:poll_batch(1000) do
            n = n + 1
            k = k + 1
            H.eq(ffi.string(f.data, f.length), tostring(n), "content")
        end
        max_batch = math.max(max_batch, k)
        return n == 400
    end)
    H.ok(max_batch > 256, "one batch held more than 256 (" .. max_batch .. ")")
end)

T:test("every subscription sees every message; concurrent publications", function()
    local e = H.env()
    local s1 = assert(e.client:add_subscription(H.URI, 1007))
    local s2 = assert(e.client:add_subscription(H.URI, 1007))
    local pub = assert(e.client:add_publication(H.URI, 1007))
    H.wait_until(function() return pub:is_connected() end)
    for i = 1, 20 do
        assert(pub:offer("c" .. i))
    end
    local a, b = H.drain(s1, 20), H.drain(s2, 20)
    H.eq(table.concat(a), table.concat(b), "both subscriptions")
    H.eq(a[20], "c20", "last")
end)

T:test("offerv gathers parts into one message", function()
    local e = H.env()
    local pub, sub = e:pubsub(1008, true)
    assert(pub:offerv({ "head:", "body:", "tail" }))
    H.eq(H.drain(sub, 1)[1], "head:body:tail", "gathered")
end)

T:test("a second client in the same process and accessors", function()
    local e = H.env()
    local c2 = assert(shoal.client(e.ctx))
    H.ok(c2:id() ~= e.client:id(), "distinct client ids")
    local sub = assert(c2:add_subscription(H.URI, 1009))
    local pub = assert(e.client:add_publication(H.URI, 1009, true))
    H.wait_until(function() return pub:is_connected() end)
    H.ok(pub:max_payload_length() > 1000, "max payload")
    H.ok(pub:max_message_length() >= pub:max_payload_length(), "max message >= payload")
    H.ok(pub:position_limit() > 0, "position limit")
    assert(pub:offer("from client 1"))
    H.eq(H.drain(sub, 1)[1], "from client 1", "cross-client")
    H.eq(e.ctx:dir(), e.dir, "context dir")
    c2:close()
end)

return T
