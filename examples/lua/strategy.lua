--[[
Moving-average cross on a quote stream, emitting orders on another stream.

  shoal-lua --dir /dev/shm/shoal-$USER examples/lua/strategy.lua [fast=20] [slow=80] [max_quotes]
  luajit examples/lua/quote_feed.lua --dir /dev/shm/shoal-$USER      (in another shell)
  build/lua-core/basic_publisher -d /dev/shm/shoal-$USER -n 5000     (or a C feed)

Reads quotes from stream 1001: shoal_example_quote_t messages
(examples/lua/messages.lua) from quote_feed.lua, or the numbered messages of
the C examples/c/basic_publisher (any other length; the quote is then the
synthetic price path at that message's sequence number, messages.fill_quote).
Keeps a fast and a slow moving average of the mid price, and when the
fast one crosses the slow one sends a shoal_example_order_t on stream 1002 to
flip its position to +100 (cross up: buy at the ask) or -100 (cross down:
sell at the bid). Orders are written in place with try_claim (zero copy).
Stops on the feed's end-of-stream quote (seq -1) or after max_quotes,
then prints a summary.
]]
local ffi = require "ffi"
local msg = require "messages"

local arg_fast, arg_slow, arg_max = ...
local FAST = tonumber(arg_fast or "") or 20
local SLOW = tonumber(arg_slow or "") or 80
local MAX_QUOTES = tonumber(arg_max or "") or math.huge
local SIZE = 100

config = {
    subscriptions = { quotes = { channel = "aeron:ipc", stream = msg.QUOTE_STREAM } },
    publications = { orders = { channel = "aeron:ipc", stream = msg.ORDER_STREAM, exclusive = true } },
    timer_ms = 1000,
    batch = 64,
}

local api, orders_pub
local cross = msg.new_crossing(FAST, SLOW)
local QuotePtr, OrderPtr = msg.QuotePtr, msg.OrderPtr
local u64p = ffi.typeof("const uint64_t *")
local scratch = msg.Quote()     -- the quote made from a C feed's numbered message
local state = { quotes = 0, orders = 0, buys = 0, sells = 0, unsent = 0, position = 0, cash = 0,
    last_side = 0, last_mid = 0, fast = 0, slow = 0, latency_ns = 0, timed = 0, start_ns = 0 }

function on_start(a)
    api = a
    orders_pub = api.pub.orders
    state.start_ns = api.now_ns()
    print(("strategy: MA cross fast=%d slow=%d, quotes on stream %d, orders on stream %d"):format(FAST, SLOW,
        msg.QUOTE_STREAM, msg.ORDER_STREAM))
    -- give the order consumer (the driver links it asynchronously) a moment;
    -- quotes arriving meanwhile wait in the log
    local deadline = api.now_ns() + 2e9
    while not orders_pub:is_connected() and api.now_ns() < deadline do
        api.shoal.sleep(0.001)
    end
    if not orders_pub:is_connected() then
        print("strategy: no order consumer on stream " .. msg.ORDER_STREAM .. " yet: orders are counted as unsent")
    end
end

-- Sends one order through try_claim; retries briefly on back pressure.
local function send_order(side, qty, price, quote_seq)
    for _ = 1, 1000 do
        local claim, err = orders_pub:try_claim(msg.ORDER_SIZE)
        if claim then
            local o = ffi.cast(OrderPtr, claim.data)
            state.orders = state.orders + 1
            o.id = state.orders
            o.quote_seq = quote_seq
            o.ts_ns = api.now_ns()
            o.price = price
            o.qty = qty
            o.side = side
            ffi.copy(o.symbol, "SHOAL", 6)
            claim:commit()
            return true
        end
        if err == "not connected" then
            break
        end
    end
    state.unsent = state.unsent + 1
    return false
end

function on_message(buf, len, header)
    local q
    if len == msg.QUOTE_SIZE then
        q = ffi.cast(QuotePtr, buf)
        if tonumber(q.seq) == msg.END_SEQ then
            api.stop()
            return
        end
        state.latency_ns = state.latency_ns + (api.now_ns() - tonumber(q.ts_ns))
        state.timed = state.timed + 1
    elseif len >= 8 then
        msg.fill_quote(scratch, tonumber(ffi.cast(u64p, buf)[0]), 0)
        q = scratch
    else
        return
    end
    local seq = tonumber(q.seq)
    state.quotes = state.quotes + 1
    local mid = (q.bid + q.ask) / 2
    state.last_mid = mid
    local side, fast, slow = cross(mid)
    state.fast, state.slow = fast, slow
    if side ~= 0 and side ~= state.last_side then
        local first = state.last_side == 0
        state.last_side = side
        if not first then   -- act on crosses, not on the first reading
            local target = side * SIZE
            local qty = math.abs(target - state.position)
            local price = side > 0 and q.ask or q.bid
            if send_order(side, qty, price, seq) then
                state.position = target
                state.cash = state.cash - side * qty * price
                if side > 0 then
                    state.buys = state.buys + 1
                else
                    state.sells = state.sells + 1
                end
                print(("ORDER #%d %s %d @ %.2f  quote %d  fast %.3f %s slow %.3f"):format(state.orders,
                    side > 0 and "BUY " or "SELL", qty, price, seq, fast, side > 0 and ">" or "<", slow))
            end
        end
    end
    if state.quotes >= MAX_QUOTES then
        api.stop()
    end
end

function on_timer(now)
    print(("[%.1fs] quotes %d, orders %d, mid %.2f, fast %.3f, slow %.3f, position %+d"):format(
        (now - state.start_ns) / 1e9, state.quotes, state.orders, state.last_mid, state.fast, state.slow,
        state.position))
end

function on_stop()
    local pnl = state.cash + state.position * state.last_mid
    print(("strategy: %d quotes, %d orders (%d buys, %d sells, %d unsent), position %+d, pnl %.2f, last mid %.2f")
        :format(state.quotes, state.orders, state.buys, state.sells, state.unsent, state.position, pnl,
        state.last_mid))
    if state.timed > 0 then
        print(("strategy: mean feed-to-strategy latency %.1f us (includes queueing behind a fast feed)"):format(
            state.latency_ns / state.timed / 1e3))
    end
end
