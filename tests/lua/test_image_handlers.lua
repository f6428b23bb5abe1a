-- Image handlers: client:add_subscription(uri, stream, on_available, on_unavailable).
-- The module's clients run in conductor-invoker mode: Lua handlers run on
-- this thread from client:do_work() (sub:poll_images(), polls, offers and
-- state getters run it when due), add_* and close.
local H, T, shoal = require("helper").start()

-- Any handler error outside the test that expects them fails the run.
local unexpected = {}
local default_error_handler = shoal.on_image_handler_error
shoal.on_image_handler_error = function(err) unexpected[#unexpected + 1] = tostring(err) end
local function no_unexpected_errors()
    H.eq(#unexpected, 0, "image handler errors (" .. table.concat(unexpected, "; ") .. ")")
end

local function recorder()
    local r = { events = {} }
    function r.available(image)
        r.events[#r.events + 1] = { kind = "available", image = image, is_closed = image.is_closed,
            position = image.position }
    end
    function r.unavailable(image)
        r.events[#r.events + 1] = { kind = "unavailable", image = image, is_closed = image.is_closed,
            position = image.position }
    end
    function r.wait(sub, n, what)
        H.wait_until(function()
            sub:poll_images()
            return #r.events >= n
        end, 10, what or (n .. " image events"))
        return r.events
    end
    return r
end

T:test("IPC: on_available with the image's fields, on_unavailable when the publication closes", function()
    local e = H.env()
    local r = recorder()
    local sub = assert(e.client:add_subscription(H.URI, 3001, r.available, r.unavailable))
    local pub = assert(e.client:add_publication(H.URI, 3001))
    H.wait_until(function() return pub:is_connected() end, 5, "connection")
    local ev = r.wait(sub, 1, "on_available")[1]
    H.eq(ev.kind, "available", "first event")
    local img = ev.image
    H.eq(img.session_id, pub:session_id(), "session id")
    H.eq(img.stream_id, 3001, "stream id")
    H.eq(img.source_identity, "aeron:ipc", "source identity")
    H.ok(type(img.correlation_id) == "number" and img.correlation_id > 0, "correlation id")
    H.eq(img.join_position, 0, "join position")
    H.eq(ev.is_closed, false, "open at on_available")
    assert(pub:offer("abc"))
    H.eq(H.drain(sub, 1)[1], "abc", "message")
    local final = pub:position()
    pub:close()
    r.wait(sub, 2, "on_unavailable after the publication closed")
    local ev2 = r.events[2]
    H.eq(ev2.kind, "unavailable", "second event")
    H.ok(ev2.image == img, "the same image table for both handlers")
    H.eq(ev2.is_closed, true, "closed at on_unavailable")
    H.eq(ev2.position, final, "final position")
    sub:close()
    H.eq(#r.events, 2, "no further events at close")
end)

T:test("polls deliver image events too", function()
    local e = H.env()
    local r = recorder()
    local sub = assert(e.client:add_subscription(H.URI, 3002, r.available))
    local pub = assert(e.client:add_publication(H.URI, 3002))
    H.wait_until(function()
        for _ in sub:poll_batch(8) do end
        return #r.events >= 1
    end, 10, "on_available from poll_batch")
    pub:close()
    -- only on_available was given: the unavailable event is consumed silently
    H.wait_until(function() sub:poll_batch_n(8); return sub:image_count() == 0 end, 10, "image gone")
    sub:poll(function() end, 10)
    H.eq(#r.events, 1, "one event")
    sub:close()
end)

T:test("close delivers on_unavailable for the images still there", function()
    local e = H.env()
    local r = recorder()
    local sub = assert(e.client:add_subscription(H.URI, 3003, r.available, r.unavailable))
    local pub = assert(e.client:add_publication(H.URI, 3003))
    r.wait(sub, 1)
    sub:close()
    H.eq(#r.events, 2, "on_unavailable ran before close returned")
    H.eq(r.events[2].kind, "unavailable", "kind")
    H.eq(r.events[2].image.session_id, pub:session_id(), "session")
    H.raises("closed", sub.poll_images, sub)

    -- and client:close() for its subscriptions
    local r2 = recorder()
    local sub2 = assert(e.client:add_subscription(H.URI, 3003, r2.available, r2.unavailable))
    r2.wait(sub2, 1)
    e.client:close()
    H.eq(#r2.events, 2, "on_unavailable ran before client:close returned")
    H.eq(r2.events[2].kind, "unavailable", "kind at client close")
end)

T:test("errors in handlers are reported and delivery goes on", function()
    local e = H.env()
    local reported = {}
    local saved = shoal.on_image_handler_error
    shoal.on_image_handler_error = function(err, image, s) reported[#reported + 1] = { err = err, image = image } end
    local ok, err = pcall(function()
        local r = recorder()
        local sub = assert(e.client:add_subscription(H.URI, 3004,
            function(image) r.available(image); error("boom available") end,
            function(image) r.unavailable(image); error("boom unavailable") end))
        local pub = assert(e.client:add_publication(H.URI, 3004))
        r.wait(sub, 1)
        pub:close()
        r.wait(sub, 2)
        H.eq(#reported, 2, "both errors reported")
        H.ok(tostring(reported[1].err):find("boom available", 1, true), "first error message")
        H.ok(tostring(reported[2].err):find("boom unavailable", 1, true), "second error message")
        -- still works
        local pub2 = assert(e.client:add_publication(H.URI, 3004))
        r.wait(sub, 3)
        H.eq(r.events[3].image.session_id, pub2:session_id(), "next image")
        assert(pub2:offer("ok"))
        H.eq(H.drain(sub, 1)[1], "ok", "message after handler errors")
        sub:close()
    end)
    shoal.on_image_handler_error = saved
    assert(ok, err)
end)

T:test("a handler may close its subscription", function()
    local e = H.env()
    local sub
    local seen = 0
    sub = assert(e.client:add_subscription(H.URI, 3005, function() seen = seen + 1; sub:close() end,
        function() seen = seen + 10 end))
    local pub = assert(e.client:add_publication(H.URI, 3005))
    H.wait_until(function() return sub:is_closed() or (sub:poll_images() and false) end, 10, "closed by handler")
    H.eq(seen, 11, "on_available, then on_unavailable from the close")
    pub:close()
end)

T:test("bad handlers raise (misuse), nothing is added", function()
    local e = H.env()
    H.raises("on_available must be a function or nil", e.client.add_subscription, e.client, H.URI, 3006, 42)
    H.raises("on_unavailable must be a function or nil", e.client.add_subscription, e.client, H.URI, 3006, nil,
        "x")
    -- a bad URI with handlers raises like without (EURI is misuse), and frees the queue
    H.raises("bogus", e.client.add_subscription, e.client, "aeron:ipc?bogus=1", 3006, function() end)
    -- callable tables are accepted
    local callable = setmetatable({}, { __call = function() end })
    local sub = assert(e.client:add_subscription(H.URI, 3006, callable, nil))
    H.eq(sub:poll_images(), 0, "nothing queued")
    sub:close()
    local plain = assert(e.client:add_subscription(H.URI, 3006))
    H.eq(plain:poll_images(), 0, "no handlers: 0")
    plain:close()
end)

T:test("subscriptions with handlers collected by the GC free their records", function()
    local e = H.env()
    local before = shoal.images.count()
    for i = 1, 20 do
        e.client:add_subscription(H.URI, 3100 + i, function() end, function() end)
    end
    H.eq(shoal.images.count(), before + 20, "records while the subscriptions live")
    collectgarbage()
    collectgarbage()
    H.eq(shoal.images.count(), before, "records left after the subscriptions were collected")
end)

T:test("conductor-invoker mode: handlers run only inside this thread's client:do_work()", function()
    local e = H.env()
    local r = recorder()
    local sub = assert(e.client:add_subscription(H.URI, 3007, r.available, r.unavailable))
    -- published by another client: nothing of e.client runs unless we call it
    local other = assert(shoal.client(e.ctx))
    local pub = assert(other:add_publication(H.URI, 3007))
    H.wait_until(function() return pub:is_connected() end, 5, "connection")
    shoal.sleep(0.2)
    H.eq(#r.events, 0, "no handler ran while this client did no work")
    local deadline = shoal.now_ns() + 5e9
    while #r.events == 0 and shoal.now_ns() < deadline do
        H.ok(e.client:do_work() >= 0, "do_work")
        shoal.sleep(0.001)
    end
    H.eq(#r.events, 1, "on_available from do_work")
    pub:close()
    shoal.sleep(0.2)
    H.eq(#r.events, 1, "on_unavailable waits for do_work too")
    while #r.events == 1 and shoal.now_ns() < deadline do
        e.client:do_work()
        shoal.sleep(0.001)
    end
    H.eq(r.events[2].kind, "unavailable", "on_unavailable from do_work")
    sub:close()
    other:close()
end)

T:test("UDP unicast between two drivers: source identity and end of stream", function()
    local s = H.env()
    local p = H.env()
    local r = recorder()
    -- a port from the pid; the next ones if it is taken (the subscription binds it)
    local sub, uri, err
    for attempt = 0, 9 do
        uri = ("aeron:udp?endpoint=127.0.0.1:%d|term-length=64k"):format(30000 + (shoal.getpid() * 7 + attempt * 131) % 20000)
        sub, err = s.client:add_subscription(uri, 3200, r.available, r.unavailable)
        if sub then
            break
        end
    end
    assert(sub, "no free UDP port for the subscription: " .. tostring(err))
    local pub = assert(p.client:add_publication(uri, 3200))
    H.wait_until(function() return pub:is_connected() end, 10, "UDP connection")
    local img = r.wait(sub, 1, "UDP on_available")[1].image
    H.eq(img.session_id, pub:session_id(), "session id")
    local host, port_s = img.source_identity:match("^(.*):(%d+)$")
    H.eq(host, "127.0.0.1", "source host (" .. img.source_identity .. ")")
    H.ok(tonumber(port_s) > 0, "source port")
    pub:close()
    r.wait(sub, 2, "UDP on_unavailable after end of stream")
    H.eq(r.events[2].kind, "unavailable", "kind")
    H.ok(r.events[2].image == img, "same image")
    sub:close()
end)

T:test("no unexpected handler errors in the tests above", function()
    shoal.on_image_handler_error = default_error_handler
    no_unexpected_errors()
end)

return T
