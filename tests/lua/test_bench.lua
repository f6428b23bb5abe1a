-- bench.lua keeps working (a short run; the real figures come from running it alone).
local H, T = require("helper").start()

T:test("bench.lua: LuaJIT and C loops run on the same stream with no sequence errors", function()
    local rc, out = H.run(("env SHOAL_LIB=%s %s %s --count 200000 --runs 1"):format(H.q(H.shoal.libpath), H.LUAJIT,
        H.q(H.LUA_DIR .. "/bench.lua")))
    H.eq(rc, 0, "bench exit status: " .. out)
    H.ok(out:find("| offer (exclusive)", 1, true) and out:find("| poll_batch (iterator)", 1, true), "table: " .. out)
    H.ok(out:find("sequence errors: 0", 1, true), "no errors: " .. out)
end)

return T
