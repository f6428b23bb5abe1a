--[[
shoal_backtest.lua: what shoal-lua --replay ARCHIVE_DIR:RECORDING_ID runs
instead of the live loop (run.lua documents the options and hooks).

A backtest is the live strategy unchanged, fed by a recording instead of a
subscription, with no driver:
  - the recording's messages go to on_message(buf, len, header, name) as a
    live poll delivers them (header.position is the recorded position); name
    is the subscription of config.subscriptions the recording belongs to
    (the only one, else the one with the recording's stream id);
  - api.now_ns() is the recorded time (CLOCK_REALTIME ns of the archive's
    time index) of the message being delivered; on_timer(now) runs at every
    timer_ms of recorded time, before the first message recorded at or after
    that tick, as a live loop on a quiet feed would, and up to the
    recording's stop time at the end;
  - api.pub.<name> are simulated publications: always connected, offer /
    offerv / try_claim+commit keep the messages (pub.messages, a list of
    strings) and return positions as a log would; --capture DIR writes each
    to DIR/<name>.msgs (per message: a little-endian uint32 length, then the
    bytes) so another program can compare them with a live run;
  - api.sub.<name> is a stand-in (is_connected, image_count, stream_id);
    api.client is nil; api.recording is the recording's descriptor table;
  - it ends at the end of the recording (its stop position; for a recording
    still in progress, where it was when the poll found nothing more), when a
    hook calls api.stop() (at once: no later message is delivered), on
    SIGINT/SIGTERM, or after --duration seconds of wall time;
  - --rate N paces delivery at N times the recorded speed (1: as recorded);
    without it, as fast as it can.
]]
local ffi = require "ffi"

local M = {}

local FRAME_ALIGNMENT, HEADER_LENGTH = 32, 32

-- ------------------------------------------------ simulated publication ----

local Publication = {}
Publication.__index = Publication
Publication.__name = "shoal.backtest.publication"

local Claim = {}
Claim.__index = Claim

local function aligned(n)
    return math.floor((n + HEADER_LENGTH + FRAME_ALIGNMENT - 1) / FRAME_ALIGNMENT) * FRAME_ALIGNMENT
end

local function new_publication(name, ep)
    local pub = setmetatable({ name = name, uri = ep.channel, stream = ep.stream, exclusive = ep.exclusive and true
        or false, messages = {}, pos = 0, closed = false }, Publication)
    pub.claim = setmetatable({ pub = pub, pending = false, data = nil, length = 0, buf = nil, cap = 0 }, Claim)
    return pub
end

local function keep(self, s)
    if self.closed then
        error("shoal: publication is closed", 3)
    end
    self.messages[#self.messages + 1] = s
    self.pos = self.pos + aligned(#s)
    return self.pos
end

-- pub:offer(string [, len]) or pub:offer(cdata pointer, len) -> position
function Publication:offer(buf, len)
    if type(buf) == "string" then
        return keep(self, len and buf:sub(1, len) or buf)
    elseif type(buf) == "cdata" and type(len) == "number" and len >= 0 then
        return keep(self, ffi.string(buf, len))
    end
    error("shoal: offer: buffer must be a string or a cdata pointer with a length", 2)
end

function Publication:offerv(parts)
    if type(parts) ~= "table" then
        error("shoal: offerv: expected a table of strings", 2)
    end
    return keep(self, table.concat(parts))
end

-- pub:try_claim(n) -> claim, position: claim.data is writable for n bytes
-- until claim:commit() (which keeps them) or claim:abort().
function Publication:try_claim(n)
    if self.closed then
        error("shoal: publication is closed", 2)
    end
    if type(n) ~= "number" or n < 0 or n % 1 ~= 0 then
        error("shoal: try_claim: length must be a non-negative integer, got " .. tostring(n), 2)
    end
    local cl = self.claim
    if cl.pending then
        error("shoal: try_claim: the previous claim on this publication is still pending: commit or abort it", 2)
    end
    if n > cl.cap then
        cl.buf = ffi.new("uint8_t[?]", n)
        cl.cap = n
    end
    ffi.fill(cl.buf, n)
    cl.pending, cl.data, cl.length = true, cl.buf, n
    return cl, self.pos + aligned(n)
end

function Claim:commit()
    if not self.pending then
        error("shoal: claim:commit: no pending claim (already committed or aborted?)", 2)
    end
    self.pending = false
    keep(self.pub, ffi.string(self.buf, self.length))
    self.data, self.length = nil, 0
    return true
end

function Claim:abort()
    if not self.pending then
        error("shoal: claim:abort: no pending claim (already committed or aborted?)", 2)
    end
    self.pending, self.data, self.length = false, nil, 0
    return true
end

function Claim:is_pending()
    return self.pending
end

function Publication:is_connected()
    return not self.closed
end

function Publication:is_closed()
    return self.closed
end

function Publication:close()
    self.closed = true
    return true
end

function Publication:position()
    return self.pos
end

function Publication:stream_id()
    return self.stream
end

-- Writes the kept messages to path: per message a little-endian uint32 length, then the bytes.
function Publication:write_messages(path)
    local f, err = io.open(path, "wb")
    if not f then
        return nil, err
    end
    local len = ffi.new("uint32_t[1]")
    for _, s in ipairs(self.messages) do
        len[0] = #s
        f:write(ffi.string(len, 4), s)
    end
    f:close()
    return true
end

M.Publication = Publication

-- ------------------------------------------------ stand-in subscription ----

local Subscription = {}
Subscription.__index = Subscription

function Subscription:is_connected()
    return true
end

function Subscription:image_count()
    return 1
end

function Subscription:stream_id()
    return self.stream
end

function Subscription:is_closed()
    return false
end

function Subscription:close()
    return true
end

-- "DIR:ID" -> dir, id (the last colon splits, so a directory may hold colons)
function M.parse_spec(spec)
    local dir, id = spec:match("^(.+):(%d+)$")
    if not dir then
        return nil, "--replay expects ARCHIVE_DIR:RECORDING_ID, got " .. spec
    end
    return dir, tonumber(id)
end

-- Opens the recording and the simulated endpoints. R: { spec, config,
-- sub_names, pub_names, api, log, die }. Returns the replay state.
function M.open(shoal, R)
    local dir, id = M.parse_spec(R.spec)
    if not dir then
        R.die(id)
    end
    local reader, rerr = shoal.archive.open(dir)
    if not reader then
        R.die(("cannot open the archive %s: %s"):format(dir, rerr), 3)
    end
    local desc, derr = reader:describe(id)
    if not desc then
        R.die(("recording %d in %s: %s"):format(id, dir, derr), 3)
    end
    local cursor, cerr = reader:cursor(id)
    if not cursor then
        R.die(("recording %d in %s: %s"):format(id, dir, cerr), 3)
    end
    local subs = R.config.subscriptions or {}
    local sub_name = #R.sub_names == 1 and R.sub_names[1] or nil
    if sub_name == nil then
        for _, name in ipairs(R.sub_names) do
            if subs[name].stream == desc.stream_id then
                if sub_name ~= nil then
                    R.die(("subscriptions %s and %s both have stream %d: which one the recording feeds is "
                        .. "ambiguous"):format(sub_name, name, desc.stream_id))
                end
                sub_name = name
            end
        end
    end
    if sub_name == nil then
        R.die(("recording %d is stream %d, and no subscription of the script has that stream"):format(id,
            desc.stream_id))
    end
    for _, name in ipairs(R.sub_names) do
        R.api.sub[name] = setmetatable({ name = name, uri = subs[name].channel, stream = subs[name].stream },
            Subscription)
    end
    local pubs = {}
    for _, name in ipairs(R.pub_names) do
        pubs[name] = new_publication(name, R.config.publications[name])
        R.api.pub[name] = pubs[name]
    end
    R.api.recording = desc
    R.log("replay of recording %d from %s: %s stream %d, positions %d..%s, into subscription %s", id, dir,
        desc.channel, desc.stream_id, desc.start_position,
        desc.stop_position >= 0 and tostring(desc.stop_position) or "(still recording)", sub_name)
    return { reader = reader, cursor = cursor, desc = desc, sub_name = sub_name, pubs = pubs }
end

-- The replay loop. L: { state (from open), on_message, on_timer, timer_ns,
-- batch, rate, duration, signalled, log, running() , set_now(ns) }.
-- Returns messages delivered, wall seconds.
function M.loop(shoal, L)
    local st = L.state
    local desc = st.desc
    local on_message, on_timer, timer_ns = L.on_message, L.on_timer, L.timer_ns
    local name = st.sub_name
    local set_now, running = L.set_now, L.running
    local wall_start = shoal.now_ns()
    local deadline = L.duration and (wall_start + L.duration * 1e9) or math.huge
    local rec_start = desc.start_timestamp_ns
    local next_timer = timer_ns > 0 and (rec_start + timer_ns) or math.huge
    local rate = L.rate
    local messages = 0
    set_now(rec_start)

    local function ticks_until(t)
        while next_timer <= t and running() do
            set_now(next_timer)
            on_timer(next_timer)
            next_timer = next_timer + timer_ns
        end
    end

    local function pace(t)
        local due = wall_start + (t - rec_start) / rate
        while running() do
            local left = due - shoal.now_ns()
            if left <= 0 then
                return
            end
            shoal.sleep(math.min(left, 1e6) / 1e9)
            if L.signalled() then
                return
            end
        end
    end

    local function deliver(buf, len, header, t)
        if not running() then
            return   -- a hook stopped the run: nothing after that
        end
        if timer_ns > 0 then
            ticks_until(t)
            if not running() then
                return
            end
        end
        if rate then
            pace(t)
        end
        set_now(t)
        messages = messages + 1
        on_message(buf, len, header, name)
    end

    local cursor = st.cursor
    local batch = L.batch
    local ended = false
    while running() do
        local n, err = cursor:poll(deliver, batch)
        if n == nil then
            error(("recording %d: %s"):format(desc.recording_id, err), 0)
        end
        if n == 0 then
            ended = true
            break
        end
        local sig = L.signalled()
        if sig then
            L.log("%s: stopping", sig)
            break
        end
        if shoal.now_ns() >= deadline then
            break
        end
    end
    if ended and timer_ns > 0 and desc.stop_timestamp_ns > 0 then
        ticks_until(desc.stop_timestamp_ns)
    end
    return messages, (shoal.now_ns() - wall_start) / 1e9, ended
end

-- Writes every simulated publication's messages to dir/<name>.msgs.
function M.capture(st, dir, log)
    for name, pub in pairs(st.pubs) do
        local path = dir .. "/" .. name .. ".msgs"
        local ok, err = pub:write_messages(path)
        if not ok then
            return nil, err
        end
        log("publication %s: %d messages written to %s", name, #pub.messages, path)
    end
    return true
end

function M.close(st)
    st.cursor:close()
    st.reader:close()
end

return M
