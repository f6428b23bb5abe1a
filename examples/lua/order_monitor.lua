--[[
Prints the orders strategy.lua sends (stream 1002) and a summary: the last
hop of the demo flow (C or Lua feed -> Lua strategy -> orders -> monitor).

  shoal-lua --dir /dev/shm/shoal-$USER examples/lua/order_monitor.lua [max_orders] [idle_exit_s]

Stops after max_orders, after idle_exit_s seconds without an order once at
least one arrived (default 1), or on SIGINT/SIGTERM.
]]
local ffi = require "ffi"
local msg = require "messages"

local arg_max, arg_idle = ...
local MAX = tonumber(arg_max or "") or math.huge
local IDLE_NS = (tonumber(arg_idle or "") or 1) * 1e9

config = {
    subscriptions = { orders = { channel = "aeron:ipc", stream = msg.ORDER_STREAM } },
    timer_ms = 100,
}

local api
local n, buys, sells, notional, last_ns = 0, 0, 0, 0, nil

function on_start(a)
    api = a
    print("order_monitor: listening on stream " .. msg.ORDER_STREAM)
    io.stdout:flush()
end

function on_message(buf, len)
    if len ~= msg.ORDER_SIZE then
        return
    end
    local o = ffi.cast("const shoal_example_order_t *", buf)
    n = n + 1
    if o.side > 0 then buys = buys + 1 else sells = sells + 1 end
    notional = notional + o.qty * o.price
    last_ns = api.now_ns()
    print(("order_monitor: #%d %s %d %s @ %.2f (quote %d, %.1f us after the strategy sent it)"):format(
        tonumber(o.id), o.side > 0 and "BUY " or "SELL", o.qty, ffi.string(o.symbol), o.price, tonumber(o.quote_seq),
        (last_ns - tonumber(o.ts_ns)) / 1e3))
    if n >= MAX then
        api.stop()
    end
end

function on_timer(now)
    if last_ns and now - last_ns > IDLE_NS then
        api.stop()
    end
end

function on_stop()
    print(("order_monitor: %d orders (%d buys, %d sells), notional %.2f"):format(n, buys, sells, notional))
end
