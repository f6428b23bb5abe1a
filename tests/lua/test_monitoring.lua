-- shoal.cnc: the driver's counters, errors and loss report through the
-- public monitoring API (shoal_cnc_*), as shoal-stat and shoal-loss read them.
local H, T, shoal = require("helper").start()

T:test("counters, errors and liveness of an embedded driver", function()
    local e = H.env()
    local pub, sub = e:pubsub(6101, true)
    H.ok(pub:offer("hello"), "offer")
    H.drain(sub, 1)
    local cnc = assert(shoal.cnc(e.dir))
    local by_label = {}
    for _, c in ipairs(cnc:counters()) do
        by_label[c.label] = c
    end
    H.eq(by_label["Clients active"].value, 1, "Clients active")
    H.eq(by_label["Clients active"].type_id, shoal.SHOAL_COUNTER_TYPE_SYSTEM or 0, "system counter type")
    local found
    for label, c in pairs(by_label) do
        if label:find("^pub%-pos: ") and label:find(" 6101 ", 1, true) then
            found = c
        end
    end
    H.ok(found and found.type_id == 2 and found.value >= 0, "pub-pos counter of stream 6101")
    H.eq(#cnc:errors(), 0, "no errors on a fresh driver")
    H.eq(#cnc:loss(), 0, "no loss over IPC")
    local age = cnc:heartbeat_age_ns()
    H.ok(age >= 0 and age <= cnc:driver_timeout_ns(), "heartbeat age " .. age .. " within the timeout")
    H.eq(cnc:pid(), shoal.getpid(), "embedded driver pid")
    cnc:close()
    cnc:close()   -- idempotent
    H.raises("cnc is closed", cnc.counters, cnc)
end)

T:test("no driver: nil, message, ENODRIVER; bad dir type raises", function()
    local v, msg, code = shoal.cnc(H.new_dir())
    H.fails(shoal.ENODRIVER, nil, v, msg, code)
    H.raises("dir must be a string", shoal.cnc, 42)
end)

T:test("the loss report names the stream after receive loss", function()
    -- a UDP port nobody holds now (LuaJIT has no sockets: ask the system's Python)
    local rc, out = H.run([[/usr/bin/python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); ]]
        .. [[s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])']])
    local port = rc == 0 and tonumber(out:match("(%d+)")) or (20000 + shoal.getpid() % 20000)
    local e = H.env({ rcv_loss_rate = "0.1", loss_seed = "3" })
    local uri = ("aeron:udp?endpoint=127.0.0.1:%d"):format(port)
    local pub, sub = e:pubsub(6102, true, uri)
    local sent = 0
    H.wait_until(function()
        if sent < 2000 and pub:offer(("x"):rep(200)) then
            sent = sent + 1
        end
        for _ in sub:poll_batch(64) do end
        return sent == 2000
    end, 60, "2000 messages offered")
    local cnc = assert(shoal.cnc(e.dir))
    local entry = H.wait_until(function()
        for _, l in ipairs(cnc:loss()) do
            if l.stream_id == 6102 then
                return l
            end
        end
    end, 30, "a loss report entry for stream 6102")
    H.ok(entry.observations >= 1 and entry.bytes_lost >= 32, ("observations %d, bytes %d"):format(entry.observations,
        entry.bytes_lost))
    H.ok(entry.channel:find(tostring(port), 1, true), "channel " .. entry.channel)
    H.ok(entry.source:find("127.0.0.1:", 1, true), "source " .. entry.source)
    H.ok(entry.first_ms <= entry.last_ms and entry.first_ms > 0, "first <= last")
    cnc:close()
end)

return T
