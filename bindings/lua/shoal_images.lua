--[[
shoal_images.lua: image handlers of the FFI module shoal.lua.

The module's clients run in conductor-invoker mode (shoal.h), so the C client
calls image handlers on this Lua thread: in shoal_client_do_work (run by
client:do_work(), and by polls, offers and the state getters when due), in
add_* and close calls while they wait for the driver, and in closes
(on_unavailable for the images still there). Two FFI callbacks serve every
subscription; a subscription's clientd is the number of its record here.

What a Lua handler gets is a plain table (a snapshot, safe to keep):
session_id, stream_id, correlation_id, source_identity, join_position,
position, is_closed. The same table goes to on_available and on_unavailable;
at on_unavailable is_closed is true and position is the final position.
An error raised by a handler is caught and passed to
shoal.on_image_handler_error(err, image, sub); delivery goes on.

    local images = require_sibling("shoal_images")(shoal, C)
    local id, clientd = images.register(state, on_available, on_unavailable)
    images.bind(id, sub)       -- the subscription object, for error reports
    images.mute(id)            -- collected by the GC: no more Lua calls
    images.forget(id)          -- after the C close
]]
local ffi = require "ffi"

return function(shoal, C)
    local M = {}
    local records = {}                               -- id -> record
    local subs = setmetatable({}, { __mode = "v" })  -- id -> subscription object (weak)
    local next_id = 0

    local function report(err, image, id)
        pcall(shoal.on_image_handler_error, err, image, subs[id])
    end

    -- Runs a user handler with the client marked "in a handler": closes it
    -- asks for are deferred until the C call that called us has returned.
    local function run(rec, id, fn, image)
        if fn == nil then
            return
        end
        local state = rec.state
        state.in_handler = state.in_handler + 1
        local ok, err = pcall(fn, image)
        state.in_handler = state.in_handler - 1
        if not ok then
            report(err, image, id)
        end
    end

    local function record_of(clientd)
        local id = tonumber(ffi.cast("intptr_t", clientd))
        local rec = records[id]
        if rec == nil or rec.muted then
            return nil, id
        end
        return rec, id
    end

    -- What a handler is given of an image: its fixed fields (the handler
    -- adds position and is_closed).
    local function snapshot_of(image)
        local source = C.shoal_image_source_identity(image)
        return { session_id = tonumber(C.shoal_image_session_id(image)),
            stream_id = tonumber(C.shoal_image_stream_id(image)),
            correlation_id = tonumber(C.shoal_image_correlation_id(image)),
            source_identity = source ~= nil and ffi.string(source) or "",
            join_position = tonumber(C.shoal_image_join_position(image)) }
    end

    local available = ffi.cast("shoal_image_handler_t", function(clientd, _, image)
        local rec, id = record_of(clientd)
        if rec == nil then
            return
        end
        local snapshot = snapshot_of(image)
        snapshot.position = tonumber(C.shoal_image_position(image))
        snapshot.is_closed = false
        rec.images[snapshot.correlation_id] = snapshot
        rec.delivered = rec.delivered + 1
        run(rec, id, rec.on_available, snapshot)
    end)

    local unavailable = ffi.cast("shoal_image_handler_t", function(clientd, _, image)
        local rec, id = record_of(clientd)
        if rec == nil then
            return
        end
        local cid = tonumber(C.shoal_image_correlation_id(image))
        local snapshot = rec.images[cid]
        rec.images[cid] = nil
        if snapshot == nil then
            snapshot = snapshot_of(image)
        end
        snapshot.position = tonumber(C.shoal_image_position(image))
        snapshot.is_closed = true
        rec.delivered = rec.delivered + 1
        run(rec, id, rec.on_unavailable, snapshot)
    end)
    -- kept for the life of the process: LuaJIT has few callback slots
    M.available, M.unavailable = available, unavailable

    -- A record for a new subscription of the client whose shared state is
    -- `state`; returns its id and the clientd to give to C.
    function M.register(state, on_available, on_unavailable)
        next_id = next_id + 1
        records[next_id] = { state = state, on_available = on_available, on_unavailable = on_unavailable,
            images = {}, delivered = 0, muted = false }
        return next_id, ffi.cast("void *", next_id)
    end

    function M.bind(id, sub)
        subs[id] = sub
    end

    function M.mute(id)
        local rec = records[id]
        if rec then
            rec.muted = true
        end
    end

    function M.forget(id)
        records[id] = nil
        subs[id] = nil
    end

    -- Events delivered to the subscription so far (on_available and
    -- on_unavailable, handlers given or not).
    function M.delivered(id)
        local rec = records[id]
        return rec and rec.delivered or 0
    end

    -- Records still held (subscriptions with handlers not yet closed).
    function M.count()
        local n = 0
        for _ in pairs(records) do
            n = n + 1
        end
        return n
    end

    return M
end
