-- try_claim: zero-copy writes into the log, then commit or abort.
local H, T, shoal = require("helper").start()
local ffi = require "ffi"

T:test("claim, write through the uint8_t* view, commit", function()
    local e = H.env()
    local pub, sub = e:pubsub(4001, true)
    local claim, pos = pub:try_claim(16)
    H.ok(claim, "claimed")
    H.eq(claim.length, 16, "length")
    H.ok(ffi.istype("uint8_t *", claim.data), "a writable uint8_t* view")
    for i = 0, 15 do
        claim.data[i] = 65 + i
    end
    H.ok(claim:is_pending(), "pending")
    H.eq(claim:commit(), true, "commit")
    H.ok(not claim:is_pending(), "no longer pending")
    H.eq(H.drain(sub, 1)[1], "ABCDEFGHIJKLMNOP", "content")
    H.eq(pub:position(), pos, "position after commit")
end)

T:test("abort: the subscriber skips the claimed range", function()
    local e = H.env()
    local pub, sub = e:pubsub(4002, true)
    local claim = assert(pub:try_claim(8))
    ffi.copy(claim.data, "aborted!", 8)
    H.eq(claim:abort(), true, "abort")
    local c2 = assert(pub:try_claim(4))
    H.ok(c2 == claim, "the publication's claim object is reused")
    ffi.copy(c2.data, "kept", 4)
    assert(c2:commit())
    local got = H.drain(sub, 1)
    shoal.sleep(0.01)
    for _ in sub:poll_batch(8) do
        got[#got + 1] = "extra"
    end
    H.eq(table.concat(got, ","), "kept", "only the committed message")
end)

T:test("claim misuse raises: double commit, claim while pending, too long, bad length", function()
    local e = H.env()
    local pub = e:pubsub(4003, true)
    local claim = assert(pub:try_claim(8))
    H.raises("still pending", pub.try_claim, pub, 8)
    assert(claim:commit())
    H.raises("no pending claim", claim.commit, claim)
    H.raises("no pending claim", claim.abort, claim)
    H.raises("shoal:", pub.try_claim, pub, pub:max_payload_length() + 1)
    H.raises("non-negative integer", pub.try_claim, pub, -1)
    H.raises("non-negative integer", pub.try_claim, pub, "8")
    H.raises("non-negative integer", pub.try_claim, pub, 1.5)
    -- the publication still works after all that
    local c = assert(pub:try_claim(1))
    c.data[0] = 1
    assert(c:commit())
end)

T:test("closing a publication aborts its pending claim; commit afterwards raises", function()
    local e = H.env()
    local sub = assert(e.client:add_subscription(H.URI, 4004))
    local pub1 = assert(e.client:add_publication(H.URI, 4004, false))
    H.wait_until(function() return pub1:is_connected() end)
    local claim = assert(pub1:try_claim(8))
    pub1:close()
    H.raises("no pending claim", claim.commit, claim)
    -- a subscriber is not stuck behind the aborted claim
    local pub2 = assert(e.client:add_publication(H.URI, 4004, false))
    H.wait_until(function() return pub2:is_connected() end)
    assert(pub2:offer("after"))
    H.eq(H.drain(sub, 1)[1], "after", "delivered past the aborted claim")
end)

T:test("committing after the client closed raises, not crashes", function()
    local e = H.env()
    local pub = e:pubsub(4005, true)
    local claim = assert(pub:try_claim(8))
    e.client:close()
    H.raises("no pending claim", claim.commit, claim)
    H.raises("closed", pub.try_claim, pub, 8)
end)

return T
