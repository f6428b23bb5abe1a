-- A plain Lua 5.1 program (no FFI) using only the SWIG module shoal.swig:
-- embedded driver, client, publication, subscription, offer, claim, poll.
-- Run by test_swig.lua under luajit and, when installed, under lua5.1.
--   LUA_CPATH=build/lua-core/lua/?.so lua5.1 tests/lua/swig_plain.lua DIR
local s = require "shoal.swig"
local dir = assert(arg[1], "usage: swig_plain.lua DIR")

local function check(cond, what)
    if not cond then
        error(what .. " (" .. s.shoal_errmsg() .. ")", 2)
    end
end

local function wait(pred, what)
    local deadline = os.time() + 10
    while not pred() do
        check(os.time() <= deadline, "timed out: " .. what)
    end
end

local rc, ctx = s.shoal_context_init()
check(rc == 0 and ctx, "context_init")
check(s.shoal_context_set(ctx, "DIR", dir) == 0, "set DIR")
check(s.shoal_context_set(ctx, "DIR_DELETE_ON_SHUTDOWN", "1") == 0, "set DIR_DELETE_ON_SHUTDOWN")
local rc2, driver = s.shoal_driver_start(ctx)
check(rc2 == 0, "driver_start")
local rc3, client = s.shoal_client_connect(ctx)
check(rc3 == 0, "client_connect")
local _, sub = s.shoal_add_subscription(client, "aeron:ipc?term-length=64k", 77)
local _, pub = s.shoal_add_exclusive_publication(client, "aeron:ipc?term-length=64k", 77)
check(sub and pub, "add pub/sub")
wait(function() return s.shoal_publication_is_connected(pub) end, "connection")

check(s.shoal_publication_offer(pub, "plain lua") > 0, "offer")
local claim = s.shoal_claim_t()
check(s.shoal_publication_try_claim(pub, 5, claim) > 0, "try_claim")
s.claim_put(claim, 0, "claim")
check(s.shoal_claim_commit(claim) == 0, "commit")

local got = {}
wait(function()
    s.poll(sub, function(data, header)
        got[#got + 1] = data .. "@" .. header.stream_id
    end, 10)
    return #got == 2
end, "two messages")
check(got[1] == "plain lua@77" and got[2] == "claim@77", "content: " .. table.concat(got, ","))

s.shoal_publication_close(pub)
s.shoal_subscription_close(sub)
s.shoal_client_close(client)
s.shoal_driver_close(driver)
s.shoal_context_close(ctx)
print("swig_plain: ok under " .. (jit and jit.version or _VERSION) .. ": " .. table.concat(got, ", "))
