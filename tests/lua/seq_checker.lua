-- A runner script (shoal-lua) that checks the numbered messages of the C
-- examples/c/basic_publisher: each starts with its 8-byte sequence number and
-- every later byte i is (seq + i) & 0xFF. Stops after COUNT messages.
--   shoal-lua --dir DIR tests/lua/seq_checker.lua STREAM COUNT
local ffi = require "ffi"
local stream_arg, count_arg = ...
local STREAM, COUNT = tonumber(stream_arg), tonumber(count_arg)

config = {
    subscriptions = { feed = { channel = "aeron:ipc", stream = STREAM } },
    timer_ms = 50,
}

local api
local received, errors, bytes, fragmented, timers = 0, 0, 0, 0, 0
local u64p = ffi.typeof("const uint64_t *")

function on_start(a)
    api = a
    print("seq_checker: started on stream " .. STREAM)
    io.stdout:flush()
end

function on_message(buf, len, header, name)
    local expect = received
    if len >= 8 then
        local seq = tonumber(ffi.cast(u64p, buf)[0])
        if seq ~= expect then
            errors = errors + 1
            if errors <= 5 then
                print(("seq_checker: expected seq %d, got %d"):format(expect, seq))
            end
        end
        for i = 8, len - 1 do
            if buf[i] ~= bit.band(seq + i, 0xFF) then
                errors = errors + 1
                break
            end
        end
    end
    if name ~= "feed" or header.stream_id ~= STREAM then
        errors = errors + 1
    end
    if header.frame_length - 32 < len then
        fragmented = fragmented + 1    -- reassembled from several frames
    end
    bytes = bytes + len
    received = received + 1
    if received == COUNT then
        api.stop()
    end
end

function on_timer()
    timers = timers + 1
end

function on_stop()
    print(("seq_checker: %d messages, %d errors, %d bytes, %d fragmented, %d timer ticks"):format(received, errors,
        bytes, fragmented, timers))
end
