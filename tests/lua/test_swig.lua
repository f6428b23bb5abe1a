-- The SWIG-generated module shoal.swig (built by scripts/test_lua.sh into
-- $SHOAL_BUILD_DIR/lua/shoal/swig.so from swig/shoal.i).
local H, T, shoal = require("helper").start()

local ok_swig, swig = pcall(require, "shoal.swig")

local function need_swig()
    if not ok_swig then
        error("shoal.swig did not load (build it with scripts/test_lua.sh): " .. tostring(swig), 0)
    end
    return swig
end

-- A driver + client made entirely through the SWIG API.
local function swig_env()
    local s = need_swig()
    local dir = H.new_dir()
    local rc, ctx = s.shoal_context_init()
    H.eq(rc, 0, "context_init")
    H.eq(s.shoal_context_set(ctx, "DIR", dir), 0, "set DIR")
    H.eq(s.shoal_context_set(ctx, "DIR_DELETE_ON_SHUTDOWN", "1"), 0, "set DIR_DELETE_ON_SHUTDOWN")
    H.eq(s.shoal_context_set_ipc_term_length(ctx, 65536), 0, "set term length")
    local rc2, driver = s.shoal_driver_start(ctx)
    H.eq(rc2, 0, "driver_start: " .. s.shoal_errmsg())
    local rc3, client = s.shoal_client_connect(ctx)
    H.eq(rc3, 0, "client_connect: " .. s.shoal_errmsg())
    local e = { s = s, dir = dir, ctx = ctx, driver = driver, client = client }
    function e:close()
        s.shoal_client_close(self.client)
        s.shoal_driver_close(self.driver)
        s.shoal_context_close(self.ctx)
        H.rm_rf(self.dir)
    end
    function e:pubsub(stream)
        local rc4, sub = s.shoal_add_subscription(client, H.URI, stream)
        H.eq(rc4, 0, "add_subscription")
        local rc5, pub = s.shoal_add_exclusive_publication(client, H.URI, stream)
        H.eq(rc5, 0, "add_exclusive_publication")
        H.wait_until(function() return s.shoal_publication_is_connected(pub) end)
        return pub, sub
    end
    return e
end

-- A test on a fresh swig_env: fn(s, pub, sub) with an exclusive publication
-- connected to a subscription on stream; the env is closed after.
local function pubsub_test(name, stream, fn)
    T:test(name, function()
        local e = swig_env()
        local pub, sub = e:pubsub(stream)
        fn(e.s, pub, sub)
        e:close()
    end)
end

T:test("the module loads and mirrors the header's constants", function()
    local s = need_swig()
    H.eq(s.shoal_version(), shoal.version(), "version")
    for name, v in pairs(shoal.defines) do
        H.eq(s[name], v, name)
    end
    for _, name in ipairs({ "SHOAL_EINVAL", "SHOAL_EURI", "SHOAL_ENODRIVER", "SHOAL_ESTATE", "SHOAL_ACTION_ABORT",
        "SHOAL_ACTION_CONTINUE", "SHOAL_IDLE_BUSY_SPIN" }) do
        H.eq(s[name], tonumber(shoal.C[name]), name)
    end
    -- every function of the header is wrapped, except the documented replacements
    local replaced = { shoal_context_set_error_handler = true, shoal_driver_run = true,
        shoal_subscription_poll = true, shoal_subscription_controlled_poll = true,
        shoal_subscription_poll_batch = true, shoal_publication_offerv = true,
        shoal_add_subscription_with_handlers = true }   -- -> add_subscription_with_handlers (Lua functions)
    local cdefs = dofile(H.LUA_DIR .. "/shoal_cdef.lua").load(H.LUA_DIR)
    for line in cdefs.cdef:gmatch("[^\n]+") do
        local name = not line:match("^typedef") and line:match("[%s%*](shoal_[%w_]+)%s*%(")
        if name and not replaced[name] then
            H.eq(type(s[name]), "function", "shoal.swig." .. name)
        end
    end
    for _, native in ipairs({ "poll", "controlled_poll", "poll_batch", "offerv", "claim_put", "claim_get",
        "add_subscription_with_handlers" }) do
        H.eq(type(s[native]), "function", "native " .. native)
    end
end)

pubsub_test("offer strings, poll with a Lua callback, header table", 8001, function(s, pub, sub)
    local pos = s.shoal_publication_offer(pub, "swig\0bytes")
    H.ok(pos > 0, "offer position")
    H.ok(s.shoal_publication_offer(pub, "second") > pos, "second offer")
    local got = {}
    H.wait_until(function()
        s.poll(sub, function(data, hdr)
            got[#got + 1] = { data, hdr }
        end, 10)
        return #got == 2
    end)
    H.eq(got[1][1], "swig\0bytes", "binary-safe data")
    H.eq(got[1][2].stream_id, 8001, "header stream id")
    H.eq(got[1][2].session_id, s.shoal_publication_session_id(pub), "header session id")
    H.eq(got[1][2].position, pos, "header position")
    H.eq(got[2][1], "second", "second message")
end)

pubsub_test("try_claim + claim_put/claim_get + commit; abort", 8002, function(s, pub, sub)
    local claim = s.shoal_claim_t()
    H.ok(s.shoal_publication_try_claim(pub, 6, claim) > 0, "try_claim")
    H.eq(claim.length, 6, "claim length")
    s.claim_put(claim, 0, "abc")
    s.claim_put(claim, 3, "def")
    H.eq(s.claim_get(claim, 0, 6), "abcdef", "read back")
    H.raises("exceed", s.claim_put, claim, 4, "xyz")
    H.eq(s.shoal_claim_commit(claim), 0, "commit")
    H.eq(s.shoal_claim_commit(claim), -1, "second commit fails")
    H.eq(s.shoal_errcode(), s.SHOAL_ESTATE, "ESTATE")
    H.raises("not pending", s.claim_put, claim, 0, "x")
    H.ok(s.shoal_publication_try_claim(pub, 4, claim) > 0, "claim again")
    H.eq(s.shoal_claim_abort(claim), 0, "abort")
    H.ok(s.shoal_publication_offer(pub, "end") > 0, "offer")
    local n, msgs
    H.wait_until(function()
        n, msgs = s.poll_batch(sub, 16)
        return n > 0
    end)
    local all = {}
    for _, m in ipairs(msgs) do
        all[#all + 1] = m.data
    end
    H.eq(table.concat(all, ","), "abcdef,end", "aborted claim skipped")
    H.eq(msgs[1].header.stream_id, 8002, "poll_batch header")
end)

pubsub_test("offerv, controlled_poll ABORT redelivers, handler errors re-raised", 8003, function(s, pub, sub)
    H.ok(s.offerv(pub, { "a", "b", "c" }) > 0, "offerv")
    H.ok(s.shoal_publication_offer(pub, "next") > 0, "offer")
    local calls = 0
    H.wait_until(function()
        return s.controlled_poll(sub, function()
            calls = calls + 1
            return s.SHOAL_ACTION_ABORT
        end, 10) == 0 and calls > 0
    end)
    local got = {}
    H.raises("handler failed", s.poll, sub, function(data)
        got[#got + 1] = data
        if data == "abc" then
            error("handler failed")
        end
    end, 10)
    H.eq(table.concat(got, ","), "abc", "the aborted message came again")
    local n, msgs = s.poll_batch(sub, 4)
    H.eq(n, 1, "the message after the failing one")
    H.eq(msgs[1].data, "next", "content")
end)

T:test("errors: C return codes and errmsg; wrong types raise", function()
    local e = swig_env()
    local s = e.s
    local rc, pub = s.shoal_add_publication(e.client, "aeron:ipc?bogus=1", 1)
    H.eq(rc, -1, "bad URI")
    H.eq(pub, nil, "no handle")
    H.eq(s.shoal_errcode(), s.SHOAL_EURI, "EURI")
    H.ok(s.shoal_errmsg():find("bogus", 1, true), "errmsg names the key")
    H.raises("shoal_publication_offer", s.shoal_publication_offer, "not a handle", "x")
    H.raises("expected a shoal_subscription_t", s.poll, {}, function() end)
    H.raises("expected a shoal_subscription_t", s.poll, e.client, function() end)   -- a client is not a subscription
    local _, sub = s.shoal_add_subscription(e.client, H.URI, 8005)
    H.raises("function expected", s.poll, sub, nil)
    H.raises("must be in [1, 65536]", s.poll_batch, sub, 0)
    local rc2, p2 = s.shoal_add_exclusive_publication(e.client, H.URI, 8004)
    H.eq(rc2, 0, "publication")
    H.eq(s.shoal_publication_offer(p2, "x"), s.SHOAL_NOT_CONNECTED, "not connected code")
    local rc3 = s.shoal_client_connect(nil)
    H.eq(rc3, -1, "connect with a NULL context")
    e:close()
end)

T:test("image handlers: Lua functions run in shoal_client_do_work on this thread (invoker mode)", function()
    local e = swig_env()
    local s = e.s
    -- the env's client runs its own conductor thread: Lua handlers refused
    H.raises("conductor-invoker mode", s.add_subscription_with_handlers, e.client, H.URI, 8006, function() end)
    H.eq(s.shoal_context_set_use_conductor_invoker(e.ctx, true), 0, "invoker mode")
    local rc0, client = s.shoal_client_connect(e.ctx)
    H.eq(rc0, 0, "invoker client: " .. s.shoal_errmsg())
    H.eq(s.shoal_client_is_conductor_invoker(client), true, "mode")
    local events = {}
    local rc, sub = s.add_subscription_with_handlers(client, H.URI, 8006,
        function(image) events[#events + 1] = { kind = "available", image = image } end,
        function(image) events[#events + 1] = { kind = "unavailable", image = image } end)
    H.eq(rc, 0, "add_subscription_with_handlers: " .. s.shoal_errmsg())
    local rc2, pub = s.shoal_add_publication(e.client, H.URI, 8006)   -- the threaded client publishes
    H.eq(rc2, 0, "publication")
    H.wait_until(function() return s.shoal_client_do_work(client) >= 0 and #events >= 1 end, 10, "on_available")
    local a = events[1].image
    H.eq(events[1].kind, "available", "kind")
    H.eq(a.session_id, s.shoal_publication_session_id(pub), "session id")
    H.eq(a.stream_id, 8006, "stream id")
    H.eq(a.source_identity, "aeron:ipc", "source")
    H.eq(a.is_closed, false, "open")
    H.eq(s.shoal_publication_close(pub), 0, "close publication")
    H.wait_until(function() return s.shoal_client_do_work(client) >= 0 and #events >= 2 end, 10, "on_unavailable")
    H.eq(events[2].kind, "unavailable", "kind")
    H.eq(events[2].image.correlation_id, a.correlation_id, "same image")
    H.eq(events[2].image.is_closed, true, "closed")
    H.eq(s.shoal_subscription_close(sub), 0, "close subscription")
    H.eq(#events, 2, "nothing more")
    local rc3, none = s.add_subscription_with_handlers(client, "aeron:ipc?bogus=1", 1, function() end)
    H.eq(rc3, -1, "bad URI")
    H.eq(none, nil, "no handle")
    H.eq(s.shoal_errcode(), s.SHOAL_EURI, "EURI")
    -- a handler left when the client closes: on_unavailable at the close, then freed
    local closed_seen = 0
    local rc4, sub2 = s.add_subscription_with_handlers(client, H.URI, 8007, nil, function() closed_seen = closed_seen + 1 end)
    H.eq(rc4, 0, "second subscription")
    local rc5, pub2 = s.shoal_add_publication(e.client, H.URI, 8007)
    H.eq(rc5, 0, "second publication")
    H.wait_until(function() s.shoal_client_do_work(client); return s.shoal_subscription_image_count(sub2) == 1 end, 10,
        "image of the second subscription")
    H.eq(s.shoal_client_close(client), 0, "close the invoker client")
    H.eq(closed_seen, 1, "on_unavailable ran in the client's close")
    s.shoal_publication_close(pub2)
    e:close()
end)

local function have(cmd)
    return H.run("command -v " .. cmd .. " >/dev/null") == 0
end

T:test("a plain Lua program using only shoal.swig (luajit, and lua5.1 when installed)", function()
    need_swig()
    local interpreters = { H.LUAJIT }
    if have("lua5.1") then
        interpreters[#interpreters + 1] = "lua5.1"
    else
        print("    note: lua5.1 is not installed; the plain-Lua check ran under LuaJIT only")
    end
    for _, lua in ipairs(interpreters) do
        local dir = H.new_dir()
        local rc, out = H.run(("LUA_CPATH=%s %s %s %s"):format(H.q(H.SWIG_CPATH), lua,
            H.q(H.ROOT .. "/tests/lua/swig_plain.lua"), H.q(dir)))
        H.rm_rf(dir)
        H.eq(rc, 0, lua .. " swig_plain.lua: " .. out)
        H.ok(out:find("swig_plain: ok", 1, true), "output: " .. out)
    end
end)

return T
