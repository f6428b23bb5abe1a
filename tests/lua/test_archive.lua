-- shoal.archive through the FFI: an embedded archive server records a stream,
-- the archive client lists it, the offline reader reads it back message by
-- message (positions and recorded times kept), and bad input fails clearly.
local H, T, shoal = require("helper").start()
local ffi = require "ffi"

local STREAM = 4001

-- A driver, an archive server in a fresh directory, a client and its archive session.
-- Records `messages` (strings) on aeron:ipc STREAM; returns the recording id and the positions.
local function record(e, messages)
    local sub_id = assert(e.arc:start_recording("aeron:ipc", STREAM))
    local pub = assert(e.client:add_publication("aeron:ipc", STREAM, true))
    H.wait_until(function() return pub:is_connected() end, 5, "recording subscription")
    local positions = {}
    for k, m in ipairs(messages) do
        H.wait_until(function()
            positions[k] = pub:offer(m)
            return positions[k]
        end, 5, "offer")
    end
    local id
    H.wait_until(function()
        local list = assert(e.arc:recordings())
        id = list[#list] and list[#list].recording_id
        return id and assert(e.arc:recording_position(id)) >= pub:position()
    end, 10, "the archive to record everything")
    pub:close()
    assert(e.arc:stop_recording(sub_id))
    return id, positions
end

T:test("archive: record through the server, list, read back offline with positions and recorded times", function()
    local e = H.archive_env()
    local msgs = {}
    for k = 1, 3000 do
        msgs[k] = ("quote %06d "):format(k) .. ("x"):rep(k % 50)
    end
    msgs[#msgs + 1] = ("F"):rep(5000)   -- longer than the mtu: fragmented
    local id, positions = record(e, msgs)
    local list = assert(e.arc:recordings())
    H.eq(#list, 1, "one recording")
    local d = list[1]
    H.eq(d.recording_id, id, "id")
    H.eq(d.stream_id, STREAM, "stream")
    H.eq(d.stop_position, positions[#positions], "stop position")
    H.eq(assert(e.arc:recording_position(id)), d.stop_position, "position of a stopped recording")
    H.ok(d.channel:find("aeron:ipc", 1, true), "channel " .. d.channel)

    local rd = assert(shoal.archive.open(e.archive_dir))
    local od = assert(rd:describe(id))
    H.eq(od.stop_position, d.stop_position, "offline descriptor")
    H.eq(#assert(rd:recordings()), 1, "offline list")
    local cur = assert(rd:cursor(id))
    local got, pos, times = {}, {}, {}
    while true do
        local n = assert(cur:poll(function(buf, len, header, t)
            got[#got + 1] = ffi.string(buf, len)
            pos[#pos + 1] = tonumber(header.position)
            times[#times + 1] = t
        end, 100))
        if n == 0 then
            break
        end
    end
    H.eq(#got, #msgs, "messages read back")
    for k = 1, #msgs do
        if got[k] ~= msgs[k] or pos[k] ~= positions[k] then
            error(("message %d: %q at %d, expected %q at %d"):format(k, got[k], pos[k], msgs[k], positions[k]))
        end
    end
    for k = 2, #times do
        H.ok(times[k] >= times[k - 1], "recorded times never go back")
    end
    H.ok(times[1] >= od.start_timestamp_ns and times[#times] <= od.stop_timestamp_ns, "times within the recording")
    H.eq(cur:position(), od.stop_position, "cursor at the stop")
    -- from a position for a length
    local part = assert(rd:cursor(id, positions[10], positions[20] - positions[10]))
    local some = {}
    while assert(part:poll(function(buf, len) some[#some + 1] = ffi.string(buf, len) end)) > 0 do end
    H.eq(#some, 10, "messages 11..20")
    H.eq(some[1], msgs[11], "the first of them")
    rd:close()
    H.raises("closed", cur.poll, cur, function() end)
    e:close()
end)

T:test("archive: unknown ids, bad positions and a missing directory fail with nil, message, code", function()
    local e = H.archive_env()
    local id, positions = record(e, { "a", "bb", "ccc" })
    H.fails(nil, nil, e.arc:recording_position(id + 50))
    H.fails(nil, nil, e.arc:purge(id + 50))
    local rd = assert(shoal.archive.open(e.archive_dir))
    H.fails(shoal.EINVAL, nil, rd:describe(id + 1))
    H.fails(shoal.EINVAL, nil, rd:cursor(id + 1))
    H.fails(shoal.EINVAL, nil, rd:cursor(id, positions[1] + 8))   -- not a frame boundary
    H.raises("must be an integer", rd.cursor, rd, "x")
    rd:close()
    local none, msg, code = shoal.archive.open(e.archive_dir .. "/missing")
    H.fails(shoal.EIO, nil, none, msg, code)
    e:close()
end)

T:test("archive: a replay through the server keeps the recording's positions", function()
    local e = H.archive_env()
    local msgs = {}
    for k = 1, 500 do
        msgs[k] = ("replayed %d"):format(k)
    end
    local id, positions = record(e, msgs)
    local sub, replay_id = e.arc:replay(id, "aeron:ipc", 4002)
    H.ok(sub, "replay: " .. tostring(replay_id))
    local got, pos = {}, {}
    H.wait_until(function()
        for _, f in sub:poll_batch(64) do
            got[#got + 1] = ffi.string(f.data, f.length)
            pos[#pos + 1] = tonumber(f.header.position)
        end
        return #got >= #msgs
    end, 10, "the replay")
    for k = 1, #msgs do
        H.eq(got[k], msgs[k], "replayed message " .. k)
        H.eq(pos[k], positions[k], "replayed position " .. k)
    end
    sub:close()
    e:close()
end)

T:test("archive: replay merge joins the live stream with no gap and no duplicate while the publisher goes on", function()
    local e = H.archive_env()
    local sub_id = assert(e.arc:start_recording("aeron:ipc", STREAM))
    local pub = assert(e.client:add_publication("aeron:ipc", STREAM, true))
    H.wait_until(function() return pub:is_connected() end, 5, "recording subscription")
    local box = ffi.new("int64_t[1]")
    local next_seq = 0
    local function publish(k)
        for _ = 1, k do
            box[0] = next_seq
            if pub:offer(box, 8) then
                next_seq = next_seq + 1
            end
        end
    end
    while next_seq < 2000 do
        publish(100)
    end
    local id
    H.wait_until(function()
        local list = assert(e.arc:recordings())
        id = list[1] and list[1].recording_id
        return id and assert(e.arc:recording_position(id)) >= pub:position()
    end, 10, "recorded")
    local merge = assert(e.arc:replay_merge(id, 0, "aeron:ipc", 4003, "aeron:ipc", STREAM))
    local seen, live_at = {}, nil
    local function on(buf, len)
        seen[#seen + 1] = tonumber(ffi.cast("const int64_t *", buf)[0])
    end
    H.wait_until(function()
        if next_seq < 6000 then
            publish(10)   -- the publisher goes on during the merge
        end
        assert(merge:poll(on, 64))
        if merge:is_live() and not live_at then
            live_at = #seen
        end
        return next_seq >= 6000 and #seen >= next_seq
    end, 30, "the merge to catch up")
    H.ok(live_at, "the merge went live")
    H.eq(#seen, next_seq, "messages seen")
    for k = 1, #seen do
        if seen[k] ~= k - 1 then
            error(("message %d is sequence %d (gap or duplicate)"):format(k, seen[k]))
        end
    end
    merge:close()
    pub:close()
    assert(e.arc:stop_recording(sub_id))
    e:close()
end)

return T
