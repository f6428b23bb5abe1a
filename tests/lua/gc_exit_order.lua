-- Child of test_gc.lua: leaves contexts, drivers, clients, publications and
-- subscriptions alive when the script ends, so lua_close runs every ffi.gc
-- finalizer at once, in the order of LuaJIT's finalizer table (a context's
-- may come before its client's). Prints "made N" and exits 0 when nothing
-- crashed; under ASan (SHOAL_LIB built with it, libasan preloaded) a context
-- freed before its client's conductor stopped is a heap-use-after-free.
--   luajit gc_exit_order.lua LUA_DIR DIR_PREFIX N
package.path = arg[1] .. "/?.lua;" .. package.path
local shoal = require "shoal"
local n = tonumber(arg[3])
held = {}   -- global: reachable until lua_close
for i = 1, n do
    local ctx = shoal.context({ dir = arg[2] .. "-" .. i, dir_delete_on_shutdown = true, ipc_term_length = "64k" })
    local driver = assert(shoal.driver(ctx))
    local client = assert(shoal.client(ctx))
    local sub = assert(client:add_subscription("aeron:ipc", 5))
    -- with image handlers: its C close at exit calls the muted Lua callback
    local with_handlers = assert(client:add_subscription("aeron:ipc", 5, function() end, function() end))
    local pub = assert(client:add_publication("aeron:ipc", 5, i % 2 == 0))
    held[i] = { ctx, driver, client, sub, with_handlers, pub }
end
print("made " .. n)
io.stdout:flush()
