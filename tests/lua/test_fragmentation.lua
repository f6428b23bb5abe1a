-- Messages longer than the mtu are fragmented and delivered whole.
local H, T, shoal = require("helper").start()
local ffi = require "ffi"

local function pattern(len, seed)
    local b = ffi.new("uint8_t[?]", len)
    for i = 0, len - 1 do
        b[i] = (seed * 7 + i) % 251
    end
    return b
end

local function check(data, len, expect_len, seed, what)
    H.eq(len, expect_len, what .. " length")
    for i = 0, len - 1 do
        if data[i] ~= (seed * 7 + i) % 251 then
            error(("%s: byte %d corrupt"):format(what, i), 2)
        end
    end
end

T:test("large messages reassembled through poll_batch (varied sizes)", function()
    local e = H.env()
    local pub, sub = e:pubsub(2001, true)
    local max = pub:max_message_length()
    local mtu_payload = pub:max_payload_length()
    H.ok(max > mtu_payload, "max message exceeds one frame")
    local sizes = { 1, mtu_payload, mtu_payload + 1, 3 * mtu_payload + 17, max }
    for round = 1, 3 do
        for k, len in ipairs(sizes) do
            local seed = round * 10 + k
            local b = pattern(len, seed)
            H.wait_until(function() return pub:offer(b, len) ~= nil end, 5, "offer " .. len)
            local done = false
            H.wait_until(function()
                for _, f in sub:poll_batch(16) do
                    check(f.data, tonumber(f.length), len, seed, "size " .. len)
                    H.ok(bit.band(f.header.flags, shoal.FLAG_BEGIN) ~= 0, "BEGIN flag on the whole message")
                    done = true
                end
                return done
            end, 5, "message of " .. len)
        end
    end
end)

T:test("large messages reassembled through poll callbacks, interleaved with small ones", function()
    local e = H.env()
    local pub, sub = e:pubsub(2002, false)
    local mtu_payload = pub:max_payload_length()
    local lens = { 5, 2 * mtu_payload + 3, 7, 4 * mtu_payload, 9 }
    local expected = {}
    for k, len in ipairs(lens) do
        assert(pub:offer(pattern(len, k), len))
        expected[#expected + 1] = { len, k }
    end
    local got = 0
    H.wait_until(function()
        sub:poll(function(buf, len)
            got = got + 1
            check(buf, len, expected[got][1], expected[got][2], "message " .. got)
        end, 10)
        return got == #lens
    end)
end)

T:test("a message over the maximum length is misuse (error)", function()
    local e = H.env()
    local pub = e:pubsub(2003, true)
    local max = pub:max_message_length()
    local b = ffi.new("uint8_t[?]", max + 1)
    H.raises("shoal:", pub.offer, pub, b, max + 1)
    H.ok(pub:offer(b, max), "the maximum itself goes")
end)

return T
