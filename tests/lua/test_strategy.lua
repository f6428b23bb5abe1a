-- The strategy runner (bindings/lua/shoal-lua) end to end, across processes:
-- the example strategy fed by the Lua quote feed, the runner fed by the C
-- basic_publisher, and the runner's stop paths.
local H, T, shoal = require("helper").start()
local ffi = require "ffi"

package.path = H.ROOT .. "/examples/lua/?.lua;" .. package.path
local msg = require "messages"

local SHOAL_LUA = H.q(H.LUA_DIR .. "/shoal-lua")
local CHILD_ENV = { SHOAL_LIB = shoal.libpath, LUAJIT = H.LUAJIT }

-- What the strategy must do with the feed's quotes: replay its rule.
local function expected_orders(count, fast, slow)
    local cross = msg.new_crossing(fast, slow)
    local q = msg.Quote()
    local last, position, list = 0, 0, {}
    for seq = 0, count - 1 do
        msg.fill_quote(q, seq, 0)
        local side = cross((q.bid + q.ask) / 2)
        if side ~= 0 and side ~= last then
            if last ~= 0 then
                local target = side * 100
                list[#list + 1] = { side = side, qty = math.abs(target - position), quote_seq = seq,
                    price = side > 0 and q.ask or q.bid }
                position = target
            end
            last = side
        end
    end
    return list
end

-- Runs strategy.lua under shoal-lua against a feed process, collecting the
-- orders it sends; checks them against the replayed rule.
local function strategy_end_to_end(feed_cmd, strategy_args, report_file, with_monitor)
    local e = H.env()
    local orders_sub = assert(e.client:add_subscription("aeron:ipc", msg.ORDER_STREAM))
    local count = 5000
    local expect = expected_orders(count, 20, 80)
    local monitor
    if with_monitor then
        monitor = H.spawn(("%s --dir %s %s %d 10"):format(SHOAL_LUA, H.q(e.dir),
            H.q(H.ROOT .. "/examples/lua/order_monitor.lua"), #expect), CHILD_ENV)
        H.wait_until(function() return monitor:output():find("listening", 1, true) end, 10, "order_monitor start")
    end
    local strat = H.spawn(("%s --dir %s --timer-ms 100 %s %s"):format(SHOAL_LUA, H.q(e.dir),
        H.q(H.ROOT .. "/examples/lua/strategy.lua"), strategy_args), CHILD_ENV)
    local feed = H.spawn(feed_cmd:format(H.q(e.dir), count), CHILD_ENV)
    local orders = {}
    local OrderPtr = ffi.typeof("const shoal_example_order_t *")
    local function poll_orders()
        for _, f in orders_sub:poll_batch(64) do
            H.eq(tonumber(f.length), msg.ORDER_SIZE, "order size")
            local o = ffi.cast(OrderPtr, f.data)
            orders[#orders + 1] = { id = tonumber(o.id), side = o.side, qty = o.qty, price = o.price,
                quote_seq = tonumber(o.quote_seq), symbol = ffi.string(o.symbol) }
        end
    end
    local ok, err = pcall(H.wait_until, function()
        poll_orders()
        return strat:done() and feed:done()
    end, 60, "strategy and feed to finish")
    if not ok then
        strat:kill()
        feed:kill()
        error(err .. "\nstrategy:\n" .. strat:output() .. "\nfeed:\n" .. feed:output(), 0)
    end
    shoal.sleep(0.05)
    poll_orders()
    local frc, fout = feed.rc, feed:output()
    local src, sout = strat.rc, strat:output()
    feed:remove()
    strat:remove()
    H.eq(frc, 0, "feed exit status: " .. fout)
    H.eq(src, 0, "strategy exit status: " .. sout)
    if monitor then
        local mrc, mout = monitor:wait(20)
        monitor:remove()
        H.eq(mrc, 0, "order_monitor exit status: " .. mout)
        H.ok(mout:find(("order_monitor: %d orders"):format(#expect), 1, true), "order_monitor summary: " .. mout)
        sout = sout .. mout
    end
    H.ok(#expect >= 5, "the synthetic path crosses several times")
    H.eq(#orders, #expect, "orders received by the test (strategy said:\n" .. sout .. ")")
    for k, o in ipairs(orders) do
        local x = expect[k]
        H.eq(o.id, k, "order id")
        H.eq(o.side, x.side, "side of order " .. k)
        H.eq(o.qty, x.qty, "qty of order " .. k)
        H.eq(o.quote_seq, x.quote_seq, "trigger quote of order " .. k)
        H.eq(o.price, x.price, "price of order " .. k)
        H.eq(o.symbol, "SHOAL", "symbol")
    end
    local summary = sout:match("strategy: (%d+ quotes, %d+ orders[^\n]*)")
    H.ok(summary, "summary line in:\n" .. sout)
    H.ok(summary:find(("%d quotes, %d orders"):format(count, #expect), 1, true), "summary: " .. summary)
    H.ok(summary:find("0 unsent", 1, true), "nothing unsent: " .. summary)
    H.ok(sout:find("ORDER #1 ", 1, true), "orders printed")
    -- keep the run's output for the report
    local f = io.open(H.BUILD .. "/" .. report_file, "w")
    if f then
        f:write(fout, sout)
        f:close()
    end
    return fout, sout
end

T:test("strategy.lua: Lua quote feed -> strategy (shoal-lua) -> orders, all in separate processes", function()
    local fout = strategy_end_to_end(H.LUAJIT .. " " .. H.q(H.ROOT .. "/examples/lua/quote_feed.lua")
        .. " --dir %s --count %d", "", "lua-strategy-output.txt")
    H.ok(fout:find("sent 5000 quotes", 1, true), "feed output: " .. fout)
end)

T:test("strategy.lua: C basic_publisher feed -> strategy -> orders -> order_monitor.lua (4 processes)", function()
    local publisher = H.BUILD .. "/basic_publisher"
    H.ok(io.open(publisher), "basic_publisher built in " .. H.BUILD)
    local fout = strategy_end_to_end(H.q(publisher) .. " -d %s -s 1001 -x -n %d", "20 80 5000",
        "lua-strategy-c-feed-output.txt", true)
    H.ok(fout:find("sent 5000 messages", 1, true), "feed output: " .. fout)
end)

T:test("shoal-lua against the C basic_publisher: numbered messages, fragmented ones too", function()
    local publisher = H.BUILD .. "/basic_publisher"
    H.ok(io.open(publisher), "basic_publisher built in " .. H.BUILD)
    local e = H.env()
    local n = 3000
    local checker = H.spawn(("%s --dir %s %s 1101 %d"):format(SHOAL_LUA, H.q(e.dir),
        H.q(H.ROOT .. "/tests/lua/seq_checker.lua"), n), CHILD_ENV)
    -- -l 0: random lengths up to 4 x mtu, so many messages are fragmented
    local rc, out = H.run(("%s -d %s -s 1101 -n %d -l 0 -x"):format(H.q(publisher), H.q(e.dir), n))
    H.eq(rc, 0, "basic_publisher: " .. out)
    local crc, cout = checker:wait(30)
    checker:remove()
    H.eq(crc, 0, "checker exit status: " .. cout)
    local got, errors, _, fragmented = cout:match("seq_checker: (%d+) messages, (%d+) errors, (%d+) bytes, (%d+) fragmented")
    H.eq(tonumber(got), n, "messages: " .. cout)
    H.eq(tonumber(errors), 0, "errors: " .. cout)
    H.ok(tonumber(fragmented) > n / 4, "many were fragmented: " .. cout)
end)

T:test("shoal-lua stops cleanly on SIGTERM and after --duration; on_timer ticks", function()
    local e = H.env()
    for _, mode in ipairs({ "timer", "return" }) do
        local p = H.spawn(("%s --dir %s %s %s"):format(SHOAL_LUA, H.q(e.dir), H.q(H.ROOT .. "/tests/lua/hook_script.lua"),
            mode), CHILD_ENV)
        H.wait_until(function() return p:output():find("started", 1, true) end, 10, "script start")
        shoal.sleep(0.15)
        os.execute("kill -TERM " .. p.pid)
        local rc, out = p:wait(10)
        p:remove()
        H.eq(rc, 0, "exit status after SIGTERM: " .. out)
        H.ok(out:find("SIGTERM: stopping", 1, true), "runner saw the signal: " .. out)
        local ticks = tonumber(out:match("stopped after (%d+) ticks"))
        H.ok(ticks and ticks >= 2, "on_stop ran after timer ticks: " .. out)
    end
    local rc, out = H.run(("env SHOAL_LIB=%s %s --dir %s --duration 0.3 %s timer"):format(H.q(shoal.libpath),
        SHOAL_LUA, H.q(e.dir), H.q(H.ROOT .. "/tests/lua/hook_script.lua")))
    H.eq(rc, 0, "--duration run: " .. out)
    H.ok(out:find("stopped after", 1, true), "on_stop after --duration: " .. out)
end)

T:test("shoal-lua: a failing hook exits 1 with a traceback; no driver exits 3; bad usage exits 2", function()
    local e = H.env()
    local rc, out = H.run(("env SHOAL_LIB=%s %s --dir %s %s fail"):format(H.q(shoal.libpath), SHOAL_LUA, H.q(e.dir),
        H.q(H.ROOT .. "/tests/lua/hook_script.lua")))
    H.eq(rc, 1, "exit status: " .. out)
    H.ok(out:find("on_timer exploded", 1, true) and out:find("traceback", 1, true), "traceback: " .. out)
    H.ok(out:find("stopped after 3 ticks", 1, true), "on_stop still ran: " .. out)
    local rc2, out2 = H.run(("env SHOAL_LIB=%s %s --dir %s %s timer"):format(H.q(shoal.libpath), SHOAL_LUA,
        H.q(H.new_dir()), H.q(H.ROOT .. "/tests/lua/hook_script.lua")))
    H.eq(rc2, 3, "no driver: " .. out2)
    H.ok(out2:find("cannot connect", 1, true), "message: " .. out2)
    local rc3 = H.run(SHOAL_LUA .. " --bogus x.lua")
    H.eq(rc3, 2, "unknown option")
end)

T:test("shoal-lua --embedded-driver runs its own driver", function()
    local dir = H.new_dir()
    local rc, out = H.run(("env SHOAL_LIB=%s %s --dir %s --embedded-driver --set DIR_DELETE_ON_SHUTDOWN=1 --duration 0.2 %s timer")
        :format(H.q(shoal.libpath), SHOAL_LUA, H.q(dir), H.q(H.ROOT .. "/tests/lua/hook_script.lua")))
    H.eq(rc, 0, "exit status: " .. out)
    H.ok(out:find("embedded driver on " .. dir, 1, true), "driver line: " .. out)
    H.ok(not shoal.driver_is_active(dir, 1000), "driver gone afterwards")
    H.rm_rf(dir)
end)

return T
