--[[
A synthetic quote feed: publishes shoal_example_quote_t messages
(examples/lua/messages.lua) on stream 1001, then an end-of-stream quote
(seq -1). Feeds examples/lua/strategy.lua.

  luajit examples/lua/quote_feed.lua [--dir DIR] [--count N] [--rate PER_S] [--stream S] [--wait S]

Waits up to --wait seconds (default 10) for a subscriber, then sends --count
quotes (default 5000) as fast as the subscriber takes them, or at --rate.
Needs a running driver on DIR (shoald, or a strategy run with --embedded-driver).
]]
local function here()
    local src = debug.getinfo(1, "S").source
    return src:sub(2):match("^(.*)/[^/]*$") or "."
end
local HERE = here()
package.path = HERE .. "/?.lua;" .. HERE .. "/../../bindings/lua/?.lua;" .. package.path

local ffi = require "ffi"
local shoal = require "shoal"
local msg = require "messages"

local opts = { count = 5000, rate = 0, stream = msg.QUOTE_STREAM, wait = 10 }
local i = 1
while i <= #arg do
    local a, v = arg[i], arg[i + 1]
    if a == "--dir" then
        opts.dir = v
    elseif a == "--count" then
        opts.count = tonumber(v)
    elseif a == "--rate" then
        opts.rate = tonumber(v)
    elseif a == "--stream" then
        opts.stream = tonumber(v)
    elseif a == "--wait" then
        opts.wait = tonumber(v)
    else
        io.stderr:write("usage: quote_feed.lua [--dir DIR] [--count N] [--rate PER_S] [--stream S] [--wait S]\n")
        os.exit(2)
    end
    i = i + 2
end

local client, err = shoal.client({ dir = opts.dir })
if not client then
    io.stderr:write("quote_feed: " .. err .. "\n")
    os.exit(1)
end
local pub = assert(client:add_publication("aeron:ipc", opts.stream, true))
local deadline = shoal.now_ns() + opts.wait * 1e9
while not pub:is_connected() do
    if shoal.now_ns() > deadline then
        io.stderr:write("quote_feed: no subscriber on stream " .. opts.stream .. "\n")
        os.exit(1)
    end
    shoal.sleep(0.001)
end

local q = msg.Quote()
local gap_ns = opts.rate > 0 and 1e9 / opts.rate or 0
local retries = 0
local start = shoal.now_ns()

local function send()
    while true do
        local pos, perr = pub:offer(q, msg.QUOTE_SIZE)
        if pos then
            return
        end
        if perr ~= "back pressured" and perr ~= "admin action" then
            io.stderr:write("quote_feed: offer failed: " .. perr .. "\n")
            os.exit(1)
        end
        retries = retries + 1
    end
end

for seq = 0, opts.count - 1 do
    if gap_ns > 0 then
        local due = start + seq * gap_ns
        while shoal.now_ns() < due do
            shoal.sleep(math.max(0, (due - shoal.now_ns()) / 1e9))
        end
    end
    msg.fill_quote(q, seq, shoal.now_ns())
    send()
end
q.seq = msg.END_SEQ
q.ts_ns = shoal.now_ns()
send()
local secs = (shoal.now_ns() - start) / 1e9
print(("quote_feed: sent %d quotes + end marker in %.3f s (%d back-pressure retries), last mid %.2f"):format(
    opts.count, secs, retries, msg.mid(opts.count - 1)))
-- let the strategy read the tail before the publication goes away
shoal.sleep(0.05)
client:close()
