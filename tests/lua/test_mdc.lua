-- Manual MDC destinations from Lua: pub:add_destination / remove_destination.
local H, T, shoal = require("helper").start()

T:test("manual MDC destinations: add, misuse raises, remove", function()
    local e = H.env()
    local c = e.client
    local pub = H.ok(c:add_publication("aeron:udp?control-mode=manual", 7001), "manual MDC publication")
    local dest = "aeron:udp?endpoint=127.0.0.1:40999"
    H.ok(pub:add_destination(dest), "add_destination")
    H.raises("already on this publication", pub.add_destination, pub, dest)
    H.raises("endpoint_uri must be a string", pub.add_destination, pub, 42)
    H.raises("bogus", pub.add_destination, pub, "aeron:udp?endpoint=127.0.0.1:1|bogus=1")
    H.ok(pub:remove_destination(dest), "remove_destination")
    H.raises("not on this publication", pub.remove_destination, pub, dest)
    local ipc = H.ok(c:add_publication(H.URI, 7002), "ipc publication")
    H.raises("not a manual MDC publication", ipc.add_destination, ipc, dest)
    pub:close()
    H.raises("closed", pub.add_destination, pub, dest)
end)

return T
