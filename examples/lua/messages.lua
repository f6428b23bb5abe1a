-- Message layouts shared by the Lua examples (quote_feed.lua, strategy.lua)
-- and their test: fixed-size little-endian structs read and written in place
-- through the FFI, plus the deterministic synthetic price path the feed uses.
local ffi = require "ffi"

if not pcall(ffi.typeof, "shoal_example_quote_t") then
    ffi.cdef[[
typedef struct shoal_example_quote_stct {
    int64_t seq;          /* 0, 1, 2, ...; -1 marks the end of the feed */
    int64_t ts_ns;        /* feed's monotonic clock when sent */
    double bid;
    double ask;
    int32_t bid_size;
    int32_t ask_size;
    char symbol[8];
} shoal_example_quote_t;

typedef struct shoal_example_order_stct {
    int64_t id;           /* 1, 2, ... per strategy run */
    int64_t quote_seq;    /* the quote that triggered it */
    int64_t ts_ns;
    double price;
    int32_t qty;
    int8_t side;          /* +1 buy, -1 sell */
    int8_t pad[3];
    char symbol[8];
} shoal_example_order_t;
]]
end

local M = {}
M.Quote = ffi.typeof("shoal_example_quote_t")
M.Order = ffi.typeof("shoal_example_order_t")
M.QuotePtr = ffi.typeof("const shoal_example_quote_t *")
M.OrderPtr = ffi.typeof("shoal_example_order_t *")
M.QUOTE_SIZE = ffi.sizeof(M.Quote)
M.ORDER_SIZE = ffi.sizeof(M.Order)
M.END_SEQ = -1
M.QUOTE_STREAM = 1001
M.ORDER_STREAM = 1002

-- Deterministic pseudo-random in [0, 1) for a sequence number (integer hash).
local function noise(seq)
    local x = bit.tobit(seq * 747796405 + 2891336453)
    x = bit.bxor(x, bit.rshift(x, 15))
    x = bit.tobit(x * 277803737)
    x = bit.bxor(x, bit.rshift(x, 16))
    return (x % 65536) / 65536
end

-- The synthetic mid price at `seq`: a slow swing, a faster wobble and noise,
-- rounded to the cent. Same in every process, so tests can replay it.
function M.mid(seq)
    local m = 100 + 4 * math.sin(seq / 250) + 0.5 * math.sin(seq / 41) + (noise(seq) - 0.5) * 0.3
    return math.floor(m * 100 + 0.5) / 100
end

function M.fill_quote(q, seq, ts_ns)
    local mid = M.mid(seq)
    q.seq = seq
    q.ts_ns = ts_ns
    q.bid = mid - 0.01
    q.ask = mid + 0.01
    q.bid_size = 100 + (seq * 37) % 900
    q.ask_size = 100 + (seq * 53) % 900
    ffi.copy(q.symbol, "SHOAL", 6)
end

-- The strategy's decision rule, kept here so the test can replay it:
-- returns +1 (fast above slow), -1 (below) or 0 (not enough data yet).
function M.new_crossing(fast_n, slow_n)
    local ring = ffi.new("double[?]", slow_n)
    local count, fsum, ssum = 0, 0, 0
    return function(mid)
        local idx = count % slow_n
        if count >= slow_n then
            ssum = ssum - ring[idx]
        end
        if count >= fast_n then
            fsum = fsum - ring[(count - fast_n) % slow_n]
        end
        ring[idx] = mid
        ssum, fsum = ssum + mid, fsum + mid
        count = count + 1
        if count < slow_n then
            return 0, fsum / math.min(count, fast_n), ssum / count
        end
        local fast, slow = fsum / fast_n, ssum / slow_n
        return fast > slow and 1 or -1, fast, slow
    end
end

return M
