--[==[
shoal_archive.lua: the archive (core/include/shoal/shoal_archive.h, docs/archive.md)
for the FFI module shoal.lua, which loads it as shoal.archive.

Offline, with no driver (reads the archive directory's catalog and segments):

    local rd = assert(shoal.archive.open("/var/lib/shoal/archive"))
    for _, d in ipairs(rd:recordings()) do print(d.recording_id, d.channel, d.stream_id, d.stop_position) end
    local cur = assert(rd:cursor(id))                -- [, position [, length]]
    while true do
        local n = assert(cur:poll(function(buf, len, header, recorded_ns) ... end, 64))
        if n == 0 then break end                     -- the end of the recording
    end
    cur:close(); rd:close()

Through an archive server (shoal.archive.server(ctx, dir) in this process, or shoal-archived):

    local server = assert(shoal.archive.server(ctx, "/var/lib/shoal/archive"))
    local arc = assert(shoal.archive.connect(client))
    local sub_id = assert(arc:start_recording("aeron:ipc", 1001))
    local list = assert(arc:recordings())             -- descriptor tables, as above
    local sub, replay_id = assert(arc:replay(id, "aeron:ipc", 2001))  -- a subscription to the replay
    local merge = assert(arc:replay_merge(id, 0, "aeron:ipc", 2002, "aeron:ipc", 1001))
    while assert(merge:poll(function(buf, len, header) ... end, 64)) >= 0 and not merge:is_live() do end
    arc:close()                                       -- closes its merges first

A descriptor is a plain table: recording_id, start_position, stop_position
(-1: still recording), start_timestamp_ns, stop_timestamp_ns (CLOCK_REALTIME),
initial_term_id, term_length, mtu, segment_length, session_id, stream_id,
channel, source_identity. Errors follow shoal.lua: expected failures (an
unknown recording, a missing directory, a corrupt segment, no archive server)
return nil, message, code; misuse raises.

Many of these C calls call back into Lua (polls, recording lists) or run
the client's duty (image handlers), which must never happen from JIT-compiled
code: every function of this file is interpreted (as in shoal.lua, "the
JIT"); the handlers given to them are the caller's and may be compiled.
]==]
local ffi = require "ffi"

if jit then
    jit.off(true, true)   -- this chunk and every function in it
end

return function(shoal, C, I)
    local M = {}
    local fail, live_handle, check_int, class, take_handle, closer = I.fail, I.live_handle, I.check_int, I.class,
        I.take_handle, I.closer
    local errmsg = shoal.errmsg

    -- The expected failure of the call that just failed: nil, message, code
    -- (never raised, whatever the code).
    local function failure()
        return nil, errmsg(), shoal.errcode()
    end

    -- What a poll returns: the handler's error raised again, nil, message,
    -- code for a failed poll, else the count.
    local function poll_result(n, err)
        if err ~= nil then
            error(err, 0)
        end
        if n < 0 then
            return failure()
        end
        return tonumber(n)
    end

    local function descriptor_table(d)
        return {
            recording_id = tonumber(d.recording_id),
            start_position = tonumber(d.start_position),
            stop_position = tonumber(d.stop_position),
            start_timestamp_ns = tonumber(d.start_timestamp_ns),
            stop_timestamp_ns = tonumber(d.stop_timestamp_ns),
            initial_term_id = tonumber(d.initial_term_id),
            term_length = tonumber(d.term_length),
            mtu = tonumber(d.mtu),
            segment_length = tonumber(d.segment_length),
            session_id = tonumber(d.session_id),
            stream_id = tonumber(d.stream_id),
            channel = d.channel ~= nil and ffi.string(d.channel) or "",
            source_identity = d.source_identity ~= nil and ffi.string(d.source_identity) or "",
        }
    end
    M.descriptor_table = descriptor_table

    -- Runs list_fn(h, from, count, cb, nil) with a temporary callback (LuaJIT
    -- has few callback slots) collecting descriptor tables.
    local function collect(list_fn, h, from, count, level)
        local rows = {}
        local cb = ffi.cast("shoal_recording_descriptor_handler_t", function(_, d)
            rows[#rows + 1] = descriptor_table(d)
        end)
        local rc = list_fn(h, from, count, cb, nil)
        cb:free()
        if rc < 0 then
            return fail(level + 1)
        end
        return rows
    end

    local function check_id(v, what, level)
        check_int(v, what, -1, 2 ^ 53, level + 1)
    end

    -- recordings([from_id [, count]]) of a reader and of an archive session:
    -- the list through list_fn on h, or nil, msg, code.
    local function recordings(list_fn, h, from, count)
        from = from or 0
        count = count or 2147483647
        check_id(from, "recordings: from_id", 3)
        check_int(count, "recordings: count", 0, 2147483647, 3)
        return collect(list_fn, h, from, count, 2)
    end

    -- The open C children of a parent (a reader's cursors, an archive
    -- session's replay merges), by address: the parent closes those still
    -- open before itself, whatever order the collector finalizes the two in.
    local function address(p)
        return tonumber(ffi.cast("uintptr_t", p))
    end

    -- Closes p with close_c unless its parent already did.
    local function close_adopted(set, p, close_c)
        local a = address(p)
        if set[a] ~= nil then
            set[a] = nil
            close_c(p)
        end
    end

    -- The handle of the new child raw, entered in its parent's set.
    local function adopt(set, raw, close_c)
        set[address(raw)] = raw
        return ffi.gc(raw, function(p)
            close_adopted(set, p, close_c)
        end)
    end

    -- The parent's side: closes every child still open.
    local function close_all_adopted(set, close_c)
        for a, p in pairs(set) do
            set[a] = nil
            close_c(p)
        end
    end

    -- A poll that calls back into Lua: one C callback for every poll of its
    -- kind (LuaJIT has few callback slots), the handler of the poll in
    -- progress in upvalues (saved and restored: nested polls work). An error
    -- in the handler is kept, the rest of that poll's messages are skipped (a
    -- fragment handler cannot stop the C poll) and the error is re-raised by
    -- poll_result. extra(h), if given, is a fourth argument of the handler.
    -- Returns poll(h, fn, limit) -> n, err (misuse raises at the caller of
    -- the method calling it) and the callback (to keep).
    local function handler_poll(what, default_limit, poll_c, extra)
        local cur_fn, cur_err, cur_h = nil, nil, nil
        local cb = ffi.cast("shoal_fragment_handler_t", function(_, buf, len, hdr)
            if cur_err ~= nil then
                return
            end
            local ok, err
            if extra then
                ok, err = pcall(cur_fn, buf, tonumber(len), hdr, extra(cur_h))
            else
                ok, err = pcall(cur_fn, buf, tonumber(len), hdr)
            end
            if not ok then
                cur_err = err
            end
        end)
        local function poll(h, fn, limit)
            if not I.is_callable(fn) then
                error("shoal: " .. what .. ": handler must be a function, got " .. type(fn), 3)
            end
            limit = limit or default_limit
            check_int(limit, what .. ": limit", 1, 1073741824, 3)
            local saved_fn, saved_err, saved_h = cur_fn, cur_err, cur_h
            cur_fn, cur_err, cur_h = fn, nil, h
            local n = poll_c(h, cb, nil, limit)
            local err = cur_err
            cur_fn, cur_err, cur_h = saved_fn, saved_err, saved_h
            return n, err
        end
        return poll, cb
    end

    -- ------------------------------------------------------------ reader ----

    local Reader = class("shoal.archive.reader")
    local Cursor = class("shoal.archive.cursor")

    -- shoal.archive.open(dir) -> reader | nil, msg, code
    -- The reader's finalizer closes its cursors' C objects first (a cursor
    -- reads through its reader): `life.cursors` maps their addresses to
    -- plain pointers, so the GC order of the two never matters.
    function M.open(dir)
        if type(dir) ~= "string" then
            error("shoal.archive.open: dir must be a string, got " .. type(dir), 2)
        end
        local out = ffi.new("shoal_archive_reader_t *[1]")
        if C.shoal_archive_reader_open(out, dir) < 0 then
            return failure()
        end
        local life = { cursors = {} }
        local h = ffi.gc(out[0], function(p)
            close_all_adopted(life.cursors, C.shoal_recording_cursor_close)
            C.shoal_archive_reader_close(p)
        end)
        return setmetatable({ h = h, dir = dir, life = life }, Reader)
    end

    -- reader:recordings([from_id [, count]]) -> { descriptor, ... } | nil, msg, code
    function Reader:recordings(from, count)
        local rows, msg, code = recordings(C.shoal_archive_reader_list, live_handle(self, "archive reader", 2), from,
            count)
        return rows, msg, code
    end

    -- reader:describe(id) -> descriptor | nil, msg, code (an unknown id is not misuse: nil, msg, code)
    function Reader:describe(id)
        local h = live_handle(self, "archive reader", 2)
        check_id(id, "describe: recording id", 2)
        local d = ffi.new("shoal_recording_descriptor_t")
        if C.shoal_archive_reader_describe(h, id, d) < 0 then
            return failure()
        end
        return descriptor_table(d)
    end

    -- reader:cursor(id [, position [, length]]) -> cursor | nil, msg, code
    -- position nil or -1: the recording's start; length nil or -1: to its stop.
    function Reader:cursor(id, position, length)
        local h = live_handle(self, "archive reader", 2)
        check_id(id, "cursor: recording id", 2)
        position = position or -1
        length = length or -1
        check_id(position, "cursor: position", 2)
        check_id(length, "cursor: length", 2)
        local out = ffi.new("shoal_recording_cursor_t *[1]")
        if C.shoal_recording_cursor_open(out, h, id, position, length) < 0 then
            return failure()
        end
        local ch = adopt(self.life.cursors, out[0], C.shoal_recording_cursor_close)
        return setmetatable({ h = ch, reader = self, recording_id = id }, Cursor)
    end

    Reader.close = closer(function(self, h)
        close_all_adopted(self.life.cursors, C.shoal_recording_cursor_close)
        C.shoal_archive_reader_close(h)
    end)

    function Reader:is_closed()
        return self.h == nil
    end

    -- handle(self, level) of an object that closes with its parent
    -- self[parent]: its C object, or an error naming it closed.
    local function parent_bound_handle(parent, what, parent_what)
        return function(self, level)
            if self[parent].h == nil then
                error("shoal: " .. what .. " is closed (its " .. parent_what .. " was closed)", level + 1)
            end
            return live_handle(self, what, level + 1)
        end
    end

    local cursor_handle = parent_bound_handle("reader", "recording cursor", "reader")

    local cursor_poll
    cursor_poll, M._cursor_cb = handler_poll("cursor:poll", 64, C.shoal_recording_cursor_poll, function(h)
        return tonumber(C.shoal_recording_cursor_timestamp_ns(h))
    end)   -- the callback kept for the process

    -- cursor:poll(fn [, limit]) -> count (0: the end) | nil, msg, code (a corrupt segment: EIO)
    -- fn(buf, len, header, recorded_ns): buf a const uint8_t* and header a
    -- const shoal_header_t* (header.position kept from the recording), both
    -- valid during the call; recorded_ns the recorded time of the message.
    function Cursor:poll(fn, limit)
        return poll_result(cursor_poll(cursor_handle(self, 2), fn, limit))
    end

    function Cursor:position()
        return tonumber(C.shoal_recording_cursor_position(cursor_handle(self, 2)))
    end

    Cursor.close = closer(function(self, h)
        close_adopted(self.reader.life.cursors, h, C.shoal_recording_cursor_close)
    end)

    function Cursor:is_closed()
        return self.h == nil or self.reader.h == nil
    end

    M.Reader, M.Cursor = Reader, Cursor

    -- ------------------------------------------------------------ server ----

    local Server = class("shoal.archive.server")

    -- shoal.archive.server(ctx, archive_dir) -> server | nil, msg, code
    -- An archive server on its own thread (shoal_archive_server_start) for
    -- the driver of ctx's directory; settings from ctx (archive_segment_length,
    -- archive_fsync, ...). Keeps ctx alive; server:close() stops it.
    function M.server(ctx, dir)
        if not shoal.is_context(ctx) then
            error("shoal.archive.server: ctx must be a shoal.context", 2)
        end
        if type(dir) ~= "string" then
            error("shoal.archive.server: archive_dir must be a string", 2)
        end
        local out = ffi.new("shoal_archive_server_t *[1]")
        local ch = live_handle(ctx, "context", 2)
        -- The server runs its own client's duty on its thread, invoker
        -- context or not.
        if C.shoal_archive_server_start(out, ch, dir) < 0 then
            return failure()
        end
        return setmetatable({ h = ffi.gc(out[0], C.shoal_archive_server_close), ctx = ctx, dir = dir }, Server)
    end

    Server.close = closer(function(_, h)
        C.shoal_archive_server_close(h)
    end)

    function Server:is_closed()
        return self.h == nil
    end

    -- ------------------------------------------------------------ client ----

    local Archive = class("shoal.archive")

    -- Closes the replay merges of an archive session (before the session itself).
    local function close_merges(arc)
        close_all_adopted(arc.merges, C.shoal_replay_merge_close)
    end

    -- shoal.archive.connect(client) -> archive | nil, msg, code
    -- A control session with the archive server on the client's driver. It
    -- is one of the client's children: closed (first) when the client closes.
    -- Every call waits for the server's answer (running the client's duty).
    -- Failures the server reports (an unknown recording, ...) return nil, msg, code.
    function M.connect(client)
        local ch = live_handle(client, "client", 2)
        local out = ffi.new("shoal_archive_t *[1]")
        local rc = C.shoal_archive_connect(out, ch)
        I.settle(client.state)
        if rc < 0 then
            return failure()
        end
        -- merges: address -> pointer of its open replay merges (closed before it, GC order aside)
        local merges = {}
        local function close_all(p)
            close_all_adopted(merges, C.shoal_replay_merge_close)
            C.shoal_archive_close(p)
        end
        return I.make_child(client, Archive, out[0], close_all, { replays = {}, merges = merges })
    end

    -- Called when the client closes: the archive's streams must go before the client.
    function Archive:_invalidate()
        local h = take_handle(self)
        if h ~= nil then
            close_merges(self)
            C.shoal_archive_close(h)
        end
    end

    Archive.close = closer(function(self, h)
        I.close_child(self, function()
            close_merges(self)
            C.shoal_archive_close(h)
        end)
    end)

    function Archive:is_closed()
        return self.h == nil
    end

    local function result(self, r)
        I.settle(self.client.state)
        if r < 0 then
            return failure()
        end
        return tonumber(r)
    end

    local SOURCES = { ["local"] = 0, remote = 1 }

    -- arc:start_recording(channel, stream_id [, "local"|"remote"]) -> subscription id
    function Archive:start_recording(channel, stream, source)
        local h = live_handle(self, "archive", 2)
        if type(channel) ~= "string" then
            error("shoal: start_recording: channel must be a string", 2)
        end
        check_int(stream, "start_recording: stream id", -2147483648, 2147483647, 2)
        local where = SOURCES[source or "local"]
        if where == nil then
            error("shoal: start_recording: source must be 'local' or 'remote'", 2)
        end
        return result(self, C.shoal_archive_start_recording_from(h, channel, stream, where))
    end

    function Archive:stop_recording(subscription_id)
        check_id(subscription_id, "stop_recording: subscription id", 2)
        local r, msg, code = result(self, C.shoal_archive_stop_recording(live_handle(self, "archive", 2),
            subscription_id))
        return r and true, msg, code
    end

    function Archive:recordings(from, count)
        local rows, msg, code = recordings(C.shoal_archive_list_recordings, live_handle(self, "archive", 2), from,
            count)
        I.settle(self.client.state)
        return rows, msg, code
    end

    function Archive:recording_position(id)
        check_id(id, "recording_position: recording id", 2)
        return result(self, C.shoal_archive_recording_position(live_handle(self, "archive", 2), id))
    end

    -- arc:replay(recording_id, channel, stream_id [, position [, length]])
    --   -> subscription, replay_session_id | nil, msg, code
    -- The subscription is on channel with the replay's session-id (that replay only).
    function Archive:replay(id, channel, stream, position, length)
        local h = live_handle(self, "archive", 2)
        check_id(id, "replay: recording id", 2)
        if type(channel) ~= "string" then
            error("shoal: replay: channel must be a string", 2)
        end
        check_int(stream, "replay: stream id", -2147483648, 2147483647, 2)
        position = position or 0
        length = length or -1
        check_id(position, "replay: position", 2)
        check_id(length, "replay: length", 2)
        local rid, msg, code = result(self, C.shoal_archive_replay(h, id, position, length, channel, stream))
        if rid == nil then
            return nil, msg, code
        end
        local session = bit.tobit(rid % 4294967296)
        local uri = channel .. (channel:find("?", 1, true) and "|" or "?") .. "session-id=" .. session
        local sub, serr, scode = self.client:add_subscription(uri, stream)
        if not sub then
            C.shoal_archive_stop_replay(h, rid)
            return nil, serr, scode
        end
        self.replays[sub] = rid
        return sub, rid
    end

    -- arc:stop_replay(subscription from replay, or replay session id) -> true | nil, msg, code
    function Archive:stop_replay(what)
        local h = live_handle(self, "archive", 2)
        local rid = self.replays[what] or what
        check_id(rid, "stop_replay: replay session id", 2)
        local r, msg, code = result(self, C.shoal_archive_stop_replay(h, rid))
        if r then
            self.replays[what] = nil
        end
        return r and true, msg, code
    end

    function Archive:truncate(id, position)
        check_id(id, "truncate: recording id", 2)
        check_id(position, "truncate: position", 2)
        local r, msg, code = result(self, C.shoal_archive_truncate(live_handle(self, "archive", 2), id, position))
        return r and true, msg, code
    end

    function Archive:purge(id)
        check_id(id, "purge: recording id", 2)
        local r, msg, code = result(self, C.shoal_archive_purge(live_handle(self, "archive", 2), id))
        return r and true, msg, code
    end

    function Archive:control_session_id()
        return tonumber(C.shoal_archive_control_session_id(live_handle(self, "archive", 2)))
    end

    -- ------------------------------------------------------- replay merge ----

    local Merge = class("shoal.archive.replay_merge")

    -- arc:replay_merge(recording_id, position, replay_channel, replay_stream_id,
    --                  live_channel, live_stream_id) -> merge | nil, msg, code
    -- A late joiner: the recording from position through a replay, then the
    -- live stream, with no gap and no duplicate. merge:poll(fn, limit) delivers
    -- and moves it on; merge:is_live() tells when it switched. It closes with
    -- its archive session.
    function Archive:replay_merge(id, position, replay_channel, replay_stream, live_channel, live_stream)
        local h = live_handle(self, "archive", 2)
        check_id(id, "replay_merge: recording id", 2)
        check_id(position, "replay_merge: position", 2)
        if type(replay_channel) ~= "string" or type(live_channel) ~= "string" then
            error("shoal: replay_merge: the channels must be strings", 2)
        end
        check_int(replay_stream, "replay_merge: replay stream id", -2147483648, 2147483647, 2)
        check_int(live_stream, "replay_merge: live stream id", -2147483648, 2147483647, 2)
        local out = ffi.new("shoal_replay_merge_t *[1]")
        local rc = C.shoal_replay_merge_start(out, h, id, position, replay_channel, replay_stream, live_channel,
            live_stream)
        I.settle(self.client.state)
        if rc < 0 then
            return failure()
        end
        local mh = adopt(self.merges, out[0], C.shoal_replay_merge_close)
        return setmetatable({ h = mh, archive = self }, Merge)
    end

    local merge_handle = parent_bound_handle("archive", "replay merge", "archive session")

    local merge_poll
    merge_poll, M._merge_cb = handler_poll("replay_merge:poll", 10, C.shoal_replay_merge_poll)

    -- merge:poll(fn [, limit]) -> count | nil, msg, code; fn(buf, len, header)
    function Merge:poll(fn, limit)
        local n, err = merge_poll(merge_handle(self, 2), fn, limit)
        I.settle(self.archive.client.state)
        return poll_result(n, err)
    end

    function Merge:is_live()
        return C.shoal_replay_merge_is_live(merge_handle(self, 2))
    end

    function Merge:position()
        return tonumber(C.shoal_replay_merge_position(merge_handle(self, 2)))
    end

    Merge.close = closer(function(self, h)
        close_adopted(self.archive.merges, h, C.shoal_replay_merge_close)
    end)

    function Merge:is_closed()
        return self.h == nil or self.archive.h == nil
    end

    M.Server, M.Archive, M.Merge = Server, Archive, Merge
    return M
end
