--[[
shoal: LuaJIT FFI binding of libshoal (core/include/shoal/shoal.h).

    local shoal = require "shoal"
    local ctx    = shoal.context{ dir = "/dev/shm/my-app", ipc_term_length = "64k" }
    local driver = shoal.driver(ctx)              -- embedded driver (or run shoald)
    local client = shoal.client(ctx)
    local sub = client:add_subscription("aeron:ipc", 1001)
    local pub = client:add_publication("aeron:ipc", 1001, true)   -- true: exclusive

    local pos, err = pub:offer("hello")           -- string, or (cdata pointer, length)
    local claim = pub:try_claim(32)               -- zero copy: claim.data is a uint8_t*
    if claim then ffi.copy(claim.data, "...", 3); claim:commit() end

    for i, f in sub:poll_batch(64) do             -- no C->Lua callback
        handle(f.data, tonumber(f.length), f.header)
    end
    sub:poll(function(buf, len, hdr) ... end, 10) -- callback form (slower)
    if sub:wait(1.0) then ... end                 -- sleeps (no CPU) until a message comes

Finding the module and the library:
  LUA_PATH="$REPO/bindings/lua/?.lua;;"   (shoal.lua and the files it loads from
  beside itself: shoal_cdef.lua, shoal_library.lua, shoal_images.lua,
  shoal_archive.lua; shoal-lua sets it)
  LUA_CPATH="$REPO/build/lua-core/lua/?.so;;"   (only for the SWIG module shoal.swig)
libshoal.so.0 is the first of these that loads (shoal.libpath tells which;
shoal_library.lua does the search):
  1. $SHOAL_LIB (a path to libshoal.so.0): an error if it does not load;
  2. the build tree next to this file: ../../build/{release,lua-core,test,
     debug,<any other>}/libshoal.so.0 (sanitizer builds are skipped);
  3. an install prefix: <prefix>/share/lua/5.1/shoal.lua -> <prefix>/lib/...,
     or a LuaRocks tree: <tree>/lib/lua/5.1/shoal/libshoal.so.0 (rockspecs/);
  4. the system loader: libshoal.so.0 on the default search path.
The FFI declarations are read, as the module loads, from shoal.h and
shoal_archive.h: the source tree's, a rock's copy beside the module, an
install prefix's or /usr/include's (shoal_cdef.lua).

Errors: two kinds, always the same way.
  * Expected failures, which a correct program meets at run time and
    handles, RETURN `nil, message, code`:
      - offer / try_claim results: "not connected" (shoal.NOT_CONNECTED),
        "back pressured" (BACK_PRESSURED), "admin action" (ADMIN_ACTION),
        "closed" (CLOSED: the publication or its client was closed under it,
        e.g. the driver died), "max position exceeded" (MAX_POSITION_EXCEEDED);
      - the environment: no driver (shoal.driver / shoal.client / add_*:
        ENODRIVER, ETIMEDOUT, EACTIVE, EDRIVER, ECLASH, EIO, ECLOSED when the
        client lost its driver), poll on a client that lost its driver,
        commit/abort of a claim the driver already unblocked (ESTATE),
        add_* from an image handler of the same client (ESTATE).
    `code` is the negative offer result or the shoal_errcode_t value
    (shoal.ENODRIVER, ...). `message` is shoal_errmsg() or the fixed names above.
  * Misuse (a bug in the caller) RAISES error(): wrong argument types or
    ranges, a bad channel URI or setting (EURI, EINVAL), a message longer than
    the maximum (EMSGSIZE), any call on a handle closed with :close() (or
    whose client was closed with :close()), committing a claim twice, closing
    a context that a client still uses (libshoal refuses it: ESTATE, its
    message raised). An error raised inside a
    sub:poll handler is re-raised by sub:poll (that message counts as
    consumed, the rest stay for the next poll).
  * The one exception: sub:poll_batch() is an iterator, which cannot return
    `nil, message`; if the client lost its driver it raises. Use
    sub:poll_batch_n(max), which returns `n, frags` or `nil, message, code`,
    when you want to handle that case without pcall.

Handles: contexts, drivers, clients, publications and subscriptions are
closed by :close() (idempotent; a second call does nothing) or, when
unreachable, by the garbage collector (ffi.gc), always in a safe order: a
client keeps its context alive, a publication or subscription keeps its
client alive, and closing a client (explicitly or by the GC) closes all its
publications and subscriptions. libshoal counts the clients of a context and
refuses to free it under them: ctx:close() raises then, and a collected
context is freed when its last client closes. An embedded driver runs until
driver:close(), ctx:close(), or until its context is collected (holding the
context is enough to keep the driver running).

Client work on this thread: clients run in libshoal's conductor-invoker mode
(no client thread). client:do_work() runs the client's duty here: driver
events, image handlers, keepalives, the driver liveness check. Polls, offers,
claims and the state getters (is_closed, is_connected, image_count) run it
too when it is due (every millisecond or so: one coarse clock read
otherwise), so a loop that polls or offers needs nothing more; a program
that does neither for longer than the client liveness timeout (10 s by
default) must call client:do_work(), or the driver times the client out.

Views: fragment data (f.data, the `buf` of poll callbacks) and header
pointers point into shared memory and are valid until the next poll on that
subscription; copy with ffi.string(f.data, f.length) to keep them. A claim's
data is valid until commit/abort; each publication has one claim object,
reused by its next try_claim (one pending claim per publication).
]]

local ffi = require "ffi"

local shoal = {}

-- ---------------------------------------------------------------- cdef ----

local function module_dir()
    local src = debug.getinfo(1, "S").source
    if src:sub(1, 1) == "@" then
        return src:sub(2):match("^(.*)/[^/]*$") or "."
    end
    return "."
end
local MODDIR = module_dir()

-- The module's other files, from beside this one (a source tree or an
-- install), else wherever require finds them.
local function sibling(name)
    local chunk = loadfile(MODDIR .. "/" .. name .. ".lua")
    if chunk then
        return chunk()
    end
    return require(name)
end

-- shoal.h and shoal_archive.h (shoal.archive, shoal_archive.lua), read now.
local cdefs = sibling("shoal_cdef").load(MODDIR)
-- Declare once per process even if another copy of this module (or a user)
-- already declared the same types.
if not pcall(ffi.typeof, "shoal_fragment_t") then
    ffi.cdef(cdefs.cdef)
end
if not pcall(ffi.typeof, "shoal_recording_descriptor_t") then
    ffi.cdef(cdefs.archive_cdef)
end
shoal.defines = cdefs.defines

-- Private names for the few libc calls the module uses (asm() aliases, so a
-- user's own cdef of clock_gettime etc. cannot clash with ours).
if not pcall(ffi.typeof, "shoal_lua_timespec_t") then
    ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } shoal_lua_timespec_t;
int shoal_lua_clock_gettime(int clk, shoal_lua_timespec_t *ts) asm("clock_gettime");
int shoal_lua_nanosleep(const shoal_lua_timespec_t *req, shoal_lua_timespec_t *rem) asm("nanosleep");
int shoal_lua_getpid(void) asm("getpid");
]]
end

-- ------------------------------------------------------------- library ----

local C, libpath = sibling("shoal_library").load(MODDIR)
local C_libc = ffi.C
local clock_gettime_coarse = C_libc.shoal_lua_clock_gettime
shoal.C = C
shoal.libpath = libpath

-- ----------------------------------------------------------- constants ----

for k, v in pairs(shoal.defines) do
    shoal[k:gsub("^SHOAL_", "")] = v
end
local ERRCODES = { "OK", "EINVAL", "EURI", "ENOMEM", "EIO", "ETIMEDOUT", "EDRIVER", "ECLOSED", "ECLASH",
    "EMSGSIZE", "EACTIVE", "ENODRIVER", "ESTATE" }
for _, name in ipairs(ERRCODES) do
    shoal[name] = tonumber(C["SHOAL_" .. name])
end
local EINVAL, EURI, EMSGSIZE, ECLOSED = shoal.EINVAL, shoal.EURI, shoal.EMSGSIZE, shoal.ECLOSED

local NOT_CONNECTED, BACK_PRESSURED, ADMIN_ACTION, CLOSED, MAX_POSITION_EXCEEDED, ERROR =
    shoal.NOT_CONNECTED, shoal.BACK_PRESSURED, shoal.ADMIN_ACTION, shoal.CLOSED, shoal.MAX_POSITION_EXCEEDED,
    shoal.ERROR
local RESULT_NAMES = {
    [NOT_CONNECTED] = "not connected",
    [BACK_PRESSURED] = "back pressured",
    [ADMIN_ACTION] = "admin action",
    [CLOSED] = "closed",
    [MAX_POSITION_EXCEEDED] = "max position exceeded",
}
shoal.result_names = RESULT_NAMES

local ACTION_BREAK, ACTION_CONTINUE = tonumber(C.SHOAL_ACTION_BREAK), tonumber(C.SHOAL_ACTION_CONTINUE)

function shoal.errcode()
    return tonumber(C.shoal_errcode())
end

function shoal.errmsg()
    local m = C.shoal_errmsg()
    return m ~= nil and ffi.string(m) or ""
end

function shoal.version()
    return ffi.string(C.shoal_version())
end

function shoal.version_number()
    return tonumber(C.shoal_version_number())
end

function shoal.driver_is_active(dir, timeout_ms)
    if type(dir) ~= "string" then
        error("shoal.driver_is_active: dir must be a string", 2)
    end
    return C.shoal_driver_is_active(dir, timeout_ms or 10000)
end

-- ------------------------------------------------------------- helpers ----

local errmsg, errcode = shoal.errmsg, shoal.errcode

-- Misuse codes raise; everything else is an expected failure returned as nil, msg, code.
local MISUSE = { [EINVAL] = true, [EURI] = true, [EMSGSIZE] = true }

local function fail(level)
    local code = errcode()
    local msg = errmsg()
    if MISUSE[code] then
        error("shoal: " .. msg, level + 1)
    end
    return nil, msg, code
end

local function check_int(v, what, lo, hi, level)
    if type(v) ~= "number" or v ~= v or v % 1 ~= 0 or v < lo or v > hi then
        error(("shoal: %s must be an integer in [%d, %d], got %s"):format(what, lo, hi, tostring(v)), level + 1)
    end
end

-- A method table for objects of the named kind (name: what __name says).
local function class(name)
    local c = { __name = name }
    c.__index = c
    return c
end

-- A function, or a table callable through its metatable.
local function is_callable(fn)
    if type(fn) == "function" then
        return true
    end
    local mt = type(fn) == "table" and getmetatable(fn)
    return mt and mt.__call ~= nil or false
end

local function closed_error(what, level)
    error("shoal: " .. what .. " is closed", level + 1)
end

-- self.h, now cleared (self is closed from here on) and its finalizer
-- disarmed (whoever took it closes it): nil if it was already.
local function take_handle(self)
    local h = self.h
    if h ~= nil then
        self.h = nil
        ffi.gc(h, nil)
    end
    return h
end

-- A close method: close_h(self, h) on the handle taken from self
-- (take_handle), nothing on a closed one; true either way.
local function closer(close_h)
    return function(self)
        local h = take_handle(self)
        if h ~= nil then
            close_h(self, h)
        end
        return true
    end
end

-- self.h, or an ECLOSED error about the closed `what` at `level` above the
-- caller (as error() counts).
local function live_handle(self, what, level)
    local h = self.h
    if h == nil then
        closed_error(what, level + 1)
    end
    return h
end

-- Adds to class a method per entry of getters (method name = C function
-- name): that function's value on the live handle, as a number.
local function number_getters(class, what, getters)
    for name, fn in pairs(getters) do
        local getter = C[fn]
        class[name] = function(self)
            return tonumber(getter(live_handle(self, what, 2)))
        end
    end
end

-- { name = prefix .. name } for each of names.
local function prefixed(prefix, names)
    local t = {}
    for _, name in ipairs(names) do
        t[name] = prefix .. name
    end
    return t
end

local cast = ffi.cast
local u8p = ffi.typeof("const uint8_t *")
local INT32_MIN, INT32_MAX = -2147483648, 2147483647
local SIZE_MAX_LUA = 2 ^ 53

-- ------------------------------------------------------------- context ----

-- Frees a context that is garbage (or closed), unless libshoal refuses
-- because a client still uses it: then the close of its last client calls
-- this again. Stops the drivers started on it after (they run on copies of
-- it). Called from finalizers too, so it only touches `life`.
local function release_context(life)
    if not life.garbage or life.ptr == nil or C.shoal_context_close(life.ptr) < 0 then
        return false
    end
    life.ptr = nil
    for d in pairs(life.drivers) do
        life.drivers[d] = nil
        C.shoal_driver_close(d)
    end
    return true
end

local Context = class("shoal.context")

local function is_context(v)
    return getmetatable(v) == Context
end

-- shoal.context{ dir = ..., KEY = value, ... }: KEY is any shoal_context_set
-- name (case-insensitive, e.g. ipc_term_length = "64k", driver_timeout_ms = 500,
-- dir_delete_on_shutdown = true). SHOAL_* environment variables apply first.
function shoal.context(opts)
    if opts == nil then
        opts = {}
    elseif type(opts) ~= "table" then
        error("shoal.context: expected a table of settings, got " .. type(opts), 2)
    end
    local pp = ffi.new("shoal_context_t *[1]")
    if C.shoal_context_init(pp) < 0 then
        error("shoal.context: " .. errmsg(), 2)
    end
    -- Finalizers run in no particular order (at lua_close, in table order: a
    -- context's could run before its client's), and libshoal refuses to free
    -- a context its clients still use, so the last of them frees it: see
    -- release_context. `life` holds a plain (uncollected) copy of the
    -- pointer, never the context object or h, so the context can still be
    -- collected.
    local life = { garbage = false, drivers = {}, ptr = ffi.cast("shoal_context_t *", pp[0]) }
    local h = ffi.gc(pp[0], function()
        life.garbage = true
        release_context(life)
    end)
    local self = setmetatable({ h = h, life = life, drivers = life.drivers }, Context)
    -- apply in a stable order so errors are deterministic
    local keys = {}
    for k in pairs(opts) do
        if type(k) ~= "string" then
            self:close()
            error("shoal.context: setting names must be strings, got " .. type(k), 2)
        end
        keys[#keys + 1] = k
    end
    table.sort(keys)
    for _, k in ipairs(keys) do
        local v = opts[k]
        local tv = type(v)
        if tv == "boolean" then
            v = v and "1" or "0"
        elseif tv == "number" then
            v = (v % 1 == 0 and v >= 0 and v < 2 ^ 63) and ("%d"):format(v) or tostring(v)
        elseif tv ~= "string" then
            self:close()
            error(("shoal.context: setting %s must be a string, number or boolean, got %s"):format(k, tv), 2)
        end
        if C.shoal_context_set(h, k:upper(), v) < 0 then
            local msg = errmsg()
            self:close()
            error("shoal.context: " .. msg, 2)
        end
    end
    return self
end

function Context:set(key, value)
    local h = live_handle(self, "context", 2)
    if type(key) ~= "string" then
        error("shoal: context:set: key must be a string", 2)
    end
    if type(value) == "boolean" then
        value = value and "1" or "0"
    end
    if C.shoal_context_set(h, key:upper(), tostring(value)) < 0 then
        error("shoal: " .. errmsg(), 2)
    end
    return self
end

function Context:dir()
    local h = live_handle(self, "context", 2)
    return ffi.string(C.shoal_context_get_dir(h))
end

function Context:is_closed()
    return self.h == nil
end

function Context:close()
    local h = self.h
    if h == nil then
        return true
    end
    local life = self.life
    life.garbage = true
    if not release_context(life) then
        life.garbage = false
        error("shoal: " .. errmsg(), 2)   -- ESTATE: a client still uses it
    end
    self.h = nil
    ffi.gc(h, nil)
    return true
end

local function context_arg(ctx, fname, level)
    if ctx == nil then
        return shoal.context(), true
    end
    if type(ctx) == "table" and not is_context(ctx) then
        return shoal.context(ctx), true
    end
    if not is_context(ctx) then
        error(("shoal.%s: expected a shoal.context or a table of settings, got %s"):format(fname, type(ctx)), level + 1)
    end
    if ctx.h == nil then
        closed_error("context", level + 1)
    end
    return ctx, false
end

-- -------------------------------------------------------------- driver ----

local Driver = class("shoal.driver")

-- shoal.driver(ctx or settings): starts an embedded media driver thread.
-- Returns the driver, or nil, message, code (e.g. EACTIVE: another driver
-- owns the directory). The driver runs until driver:close(), ctx:close(), or
-- until its context is garbage (the driver object keeps its context alive).
-- The handle start(pp, ctx.h) makes (shoal_driver_start, shoal_client_connect),
-- or nil, msg, code (misuse raised) for the caller of shoal.driver /
-- shoal.client; a context made for that call (own) is closed on failure.
local function start_handle(ctx, own, ctype, start)
    local pp = ffi.new(ctype)
    if start(pp, ctx.h) < 0 then
        local a, b, c = fail(3)
        if own then
            ctx:close()
        end
        return a, b, c
    end
    return pp[0]
end

function shoal.driver(ctx)
    local own
    ctx, own = context_arg(ctx, "driver", 2)
    local h, msg, code = start_handle(ctx, own, "shoal_driver_t *[1]", C.shoal_driver_start)
    if h == nil then
        return nil, msg, code
    end
    ctx.drivers[h] = true
    return setmetatable({ h = h, ctx = ctx, own_ctx = own }, Driver)
end

Driver.close = closer(function(self, h)
    local drivers = self.ctx.drivers
    if drivers[h] then     -- else ctx:close() already stopped it
        drivers[h] = nil
        C.shoal_driver_close(h)
    end
    if self.own_ctx then
        pcall(self.ctx.close, self.ctx)   -- not while a client uses it
    end
end)

function Driver:is_closed()
    return self.h == nil
end

function Driver:dir()
    return self.ctx:dir()
end

-- -------------------------------------------------------------- client ----

local Client = class("shoal.client")
local Publication = class("shoal.publication")
local Subscription = class("shoal.subscription")
local Claim = class("shoal.claim")

local images = sibling("shoal_images")(shoal, C)
shoal.images = images

-- The client's duty is due again this many ms after it last ran (when a
-- poll, offer or state getter comes by; client:do_work() runs it at once).
local WORK_INTERVAL_MS = 1
local CLOCK_MONOTONIC_COARSE = 6   -- read from the vDSO without a time source: a few ns
local coarse = ffi.new("shoal_lua_timespec_t")

-- Runs the deferred C closes asked for from image handlers (which run
-- inside C calls of this client, where the client cannot close anything).
local function settle(state)
    local deferred = state.deferred
    if #deferred == 0 or state.in_handler > 0 then
        return
    end
    state.deferred = {}
    for _, fn in ipairs(deferred) do
        fn()
    end
end

-- One duty cycle of the client on this thread: the count of driver events
-- handled, or nil, msg, code. Interpreted, as most of this file ("the JIT" at
-- the end): the C call may call back into Lua (image handlers).
local function invoke(client, level)
    local state = client.state
    if state.in_handler > 0 then
        return 0   -- from an image handler: its own do_work is in progress
    end
    clock_gettime_coarse(CLOCK_MONOTONIC_COARSE, coarse)
    state.next_work_ms = tonumber(coarse.tv_sec) * 1000 + tonumber(coarse.tv_nsec) * 1e-6 + WORK_INTERVAL_MS
    local n = C.shoal_client_do_work(client.h)
    settle(state)
    if n < 0 then
        return fail(level + 1)
    end
    return tonumber(n)
end

-- The hot paths' check: one coarse clock read, the duty when it is due.
local function work_if_due(client)
    local state = client.state
    clock_gettime_coarse(CLOCK_MONOTONIC_COARSE, coarse)
    if tonumber(coarse.tv_sec) * 1000 + tonumber(coarse.tv_nsec) * 1e-6 >= state.next_work_ms
        and client.h ~= nil then
        invoke(client, 1)
    end
end

-- shoal.client(ctx or settings): connects to the driver of ctx's directory,
-- in conductor-invoker mode (see "Client work on this thread" above).
-- Returns the client, or nil, message, code (ENODRIVER: no driver there).
function shoal.client(ctx)
    local own
    ctx, own = context_arg(ctx, "client", 2)
    C.shoal_context_set_use_conductor_invoker(ctx.h, true)
    local client, msg, code = start_handle(ctx, own, "shoal_client_t *[1]", C.shoal_client_connect)
    if client == nil then
        return nil, msg, code
    end
    -- The finalizer holds `life`, not ctx: at lua_close ctx's finalizer may
    -- run first; the context is then freed here (release_context).
    local life = ctx.life
    -- state shared with the children's finalizers: they skip their C close
    -- once the client is closed (the C client freed them already).
    -- records: image-handler records of its subscriptions (shoal_images.lua)
    local state = { open = true, records = {}, in_handler = 0, deferred = {}, next_work_ms = 0 }
    local h = ffi.gc(client, function(c)
        state.open = false
        for id in pairs(state.records) do
            images.mute(id)   -- no Lua handler runs from a finalizer
        end
        C.shoal_client_close(c)
        for id in pairs(state.records) do
            images.forget(id)
        end
        release_context(life)
    end)
    return setmetatable({ h = h, ctx = ctx, own_ctx = own, state = state,
        children = setmetatable({}, { __mode = "k" }) }, Client)
end

function Client:id()
    return tonumber(C.shoal_client_id(live_handle(self, "client", 2)))
end

-- client:do_work() -> count | nil, msg, code: runs the client's duty on this
-- thread now (image handlers included); ECLOSED once the client lost its
-- driver or was timed out.
function Client:do_work()
    live_handle(self, "client", 2)
    return invoke(self, 2)
end

-- true once the client lost its driver or was closed
function Client:is_closed()
    if self.h == nil then
        return true
    end
    work_if_due(self)
    return self.h == nil or C.shoal_client_is_closed(self.h)
end

-- The C close of a client whose Lua side is already invalidated.
local function close_client(self, h)
    C.shoal_client_close(h)   -- on_unavailable for the images still there
    for id in pairs(self.state.records) do
        images.forget(id)
    end
    self.state.records = {}
    release_context(self.ctx.life)
    if self.own_ctx then
        pcall(self.ctx.close, self.ctx)
    end
end

Client.close = closer(function(self, h)
    for child in pairs(self.children) do
        child:_invalidate()
    end
    local state = self.state
    if state.in_handler > 0 then
        -- from one of its image handlers: once the C call running it returns
        state.deferred[#state.deferred + 1] = function()
            state.open = false
            close_client(self, h)
        end
        return
    end
    state.open = false
    close_client(self, h)
end)

-- A state getter of a publication or subscription (is_connected,
-- image_count): the client's duty first when it is due, so what the driver
-- told since shows; then c_getter's value on the live handle, through
-- convert if given.
local function state_getter(what, c_getter, convert)
    return function(self)
        local h = live_handle(self, what, 2)
        work_if_due(self.client)
        local v = c_getter(h)
        if convert then
            return convert(v)
        end
        return v
    end
end

local function check_uri_stream(uri, stream, fname)
    if type(uri) ~= "string" then
        error(("shoal: %s: uri must be a string, got %s"):format(fname, type(uri)), 3)
    end
    check_int(stream, fname .. ": stream id", INT32_MIN, INT32_MAX, 3)
end

local function make_child(self, class, h, close_fn, fields)
    local state = self.state
    local obj = fields
    obj.h = ffi.gc(h, function(p)
        if state.open then
            close_fn(p)
        end
    end)
    obj.client = self
    obj.close_fn = close_fn
    setmetatable(obj, class)
    self.children[obj] = true
    return obj
end

-- Forgets a closed child of its client, then runs close_c now or, inside an
-- image handler of that client, once the handler returns (the C close would
-- wait for the handler's own lock).
local function close_child(self, close_c)
    local client = self.client
    client.children[self] = nil
    local state = client.state
    if state.in_handler > 0 then
        state.deferred[#state.deferred + 1] = close_c
        return
    end
    close_c()
    settle(state)
end

-- client:add_publication(uri, stream_id [, exclusive]) -> publication | nil, msg, code
function Client:add_publication(uri, stream, exclusive)
    local h = live_handle(self, "client", 2)
    check_uri_stream(uri, stream, "add_publication")
    local pp = ffi.new("shoal_publication_t *[1]")
    local rc
    if exclusive then
        rc = C.shoal_add_exclusive_publication(h, uri, stream, pp)
    else
        rc = C.shoal_add_publication(h, uri, stream, pp)
    end
    settle(self.state)
    if rc < 0 then
        return fail(2)
    end
    local claim = setmetatable({ c = ffi.new("shoal_claim_t"), pending = false, data = nil, length = 0 }, Claim)
    local pub = make_child(self, Publication, pp[0], C.shoal_publication_close,
        { claim = claim, exclusive = exclusive and true or false, uri = uri, stream = stream })
    claim.pub = pub
    return pub
end

function Client:add_exclusive_publication(uri, stream)
    return self:add_publication(uri, stream, true)
end

local DEFAULT_BATCH = 256

local function check_handler(fn, what)
    if fn ~= nil and not is_callable(fn) then
        error(("shoal: add_subscription: %s must be a function or nil, got %s"):format(what, type(fn)), 3)
    end
end

-- client:add_subscription(uri, stream_id [, on_available [, on_unavailable]])
--   -> subscription | nil, msg, code
-- Image handlers (functions or nil) get an image table (shoal_images.lua);
-- they run on this Lua thread, inside the client's C calls: client:do_work()
-- (and polls, offers, state getters when it is due), add_* and close calls.
-- A handler may poll, and may close its subscription or client (done once
-- the handler returns); add_* from a handler fails with ESTATE.
function Client:add_subscription(uri, stream, on_available, on_unavailable)
    local h = live_handle(self, "client", 2)
    check_uri_stream(uri, stream, "add_subscription")
    check_handler(on_available, "on_available")
    check_handler(on_unavailable, "on_unavailable")
    local pp = ffi.new("shoal_subscription_t *[1]")
    local fields = { frags = ffi.new("shoal_fragment_t[?]", DEFAULT_BATCH), cap = DEFAULT_BATCH, n = 0, uri = uri,
        stream = stream }
    local state = self.state
    if on_available == nil and on_unavailable == nil then
        local rc = C.shoal_add_subscription(h, uri, stream, pp)
        settle(state)
        if rc < 0 then
            return fail(2)
        end
        return make_child(self, Subscription, pp[0], C.shoal_subscription_close, fields)
    end
    local id, clientd = images.register(state, on_available, on_unavailable)
    state.records[id] = true
    local rc = C.shoal_add_subscription_with_handlers(h, uri, stream, images.available, images.unavailable, clientd,
        pp)
    if rc < 0 then
        local a, b, c = fail(2)   -- before settle: it may fail too
        images.forget(id)
        state.records[id] = nil
        settle(state)
        return a, b, c
    end
    fields.image_record = id
    -- collected while its client is open: closed without calling Lua handlers
    local sub = make_child(self, Subscription, pp[0], function(p)
        images.mute(id)
        C.shoal_subscription_close(p)
        images.forget(id)
        state.records[id] = nil
    end, fields)
    images.bind(id, sub)
    settle(state)
    return sub
end

-- --------------------------------------------------------- publication ----

-- Called when the owning client closes: the C side frees the handle.
function Publication:_invalidate()
    if take_handle(self) ~= nil then
        local cl = self.claim
        cl.pending, cl.data, cl.length = false, nil, 0
    end
end

Publication.close = closer(function(self, h)
    local cl = self.claim
    if cl.pending then
        -- do not leave subscribers waiting for the unblock timeout
        C.shoal_claim_abort(cl.c)
        cl.pending, cl.data, cl.length = false, nil, 0
    end
    close_child(self, function() C.shoal_publication_close(h) end)
end)

local function result(r)
    if r == ERROR then
        error("shoal: " .. errmsg(), 3)
    end
    return nil, RESULT_NAMES[r], r
end

-- What an offer returns: the new position, or result's failure.
local function offered(r)
    if r > 0 then
        return tonumber(r)
    end
    return result(tonumber(r))
end

-- pub:offer(string [, len]) or pub:offer(cdata_pointer, len)
-- -> new stream position | nil, "back pressured"|..., code
function Publication:offer(buf, len)
    local h = self.h
    if h == nil then
        closed_error("publication", 2)
    end
    work_if_due(self.client)
    local tb = type(buf)
    if tb == "string" then
        local n = #buf
        if len == nil then
            len = n
        elseif type(len) ~= "number" or len < 0 or len > n or len % 1 ~= 0 then
            error(("shoal: offer: len must be an integer in [0, %d] for this string, got %s"):format(n, tostring(len)), 2)
        end
    elseif tb == "cdata" then
        if type(len) ~= "number" or len < 0 or len % 1 ~= 0 or len >= SIZE_MAX_LUA then
            error("shoal: offer: a cdata buffer needs a non-negative integer len, got " .. tostring(len), 2)
        end
    else
        error("shoal: offer: buffer must be a string or a cdata pointer, got " .. tb, 2)
    end
    return offered(C.shoal_publication_offer(h, cast(u8p, buf), len))
end

-- pub:offerv{ s1, s2, ... }: gathers strings into one message.
function Publication:offerv(parts)
    local h = live_handle(self, "publication", 2)
    work_if_due(self.client)
    if type(parts) ~= "table" then
        error("shoal: offerv: expected a table of strings", 2)
    end
    local n = #parts
    local iov = ffi.new("shoal_iovec_t[?]", n > 0 and n or 1)
    for i = 1, n do
        local s = parts[i]
        if type(s) ~= "string" then
            error(("shoal: offerv: part %d must be a string, got %s"):format(i, type(s)), 2)
        end
        iov[i - 1].base = cast(u8p, s)
        iov[i - 1].length = #s
    end
    local r = C.shoal_publication_offerv(h, iov, n)
    -- keep the strings alive across the call
    local _ = parts
    return offered(r)
end

-- pub:try_claim(n) -> claim, position | nil, msg, code
-- claim.data is a writable uint8_t* of claim.length bytes; then claim:commit()
-- or claim:abort(). The claim object is the publication's own, reused.
function Publication:try_claim(n)
    local h = self.h
    if h == nil then
        closed_error("publication", 2)
    end
    if type(n) ~= "number" or n < 0 or n % 1 ~= 0 or n >= SIZE_MAX_LUA then
        error("shoal: try_claim: length must be a non-negative integer, got " .. tostring(n), 2)
    end
    work_if_due(self.client)
    local cl = self.claim
    if cl.pending then
        error("shoal: try_claim: the previous claim on this publication is still pending: commit or abort it", 2)
    end
    local c = cl.c
    local r = C.shoal_publication_try_claim(h, n, c)
    if r > 0 then
        cl.pending = true
        cl.data = c.data
        cl.length = n
        return cl, tonumber(r)
    end
    return result(tonumber(r))
end

local function claim_finish(self, fn, what)
    if not self.pending then
        error("shoal: claim:" .. what .. ": no pending claim (already committed or aborted?)", 3)
    end
    if self.pub.h == nil then
        closed_error("publication", 3)
    end
    self.pending, self.data, self.length = false, nil, 0
    if fn(self.c) < 0 then
        return fail(3)
    end
    return true
end

function Claim:commit()
    return claim_finish(self, C.shoal_claim_commit, "commit")
end

function Claim:abort()
    return claim_finish(self, C.shoal_claim_abort, "abort")
end

function Claim:is_pending()
    return self.pending
end

-- Manual MDC (channel with control-mode=manual): pub:add_destination(
-- "aeron:udp?endpoint=host:port") / pub:remove_destination(uri) -> true.
-- Misuse (not a manual MDC publication, bad URI, destination already there
-- or not there) raises; a closed client or a driver timeout returns nil,
-- msg, code.
local function destination(self, uri, add, name)
    local h = live_handle(self, "publication", 3)
    if type(uri) ~= "string" then
        error("shoal: " .. name .. ": endpoint_uri must be a string such as 'aeron:udp?endpoint=host:port'", 3)
    end
    local rc = add and C.shoal_publication_add_destination(h, uri) or C.shoal_publication_remove_destination(h, uri)
    settle(self.client.state)
    if rc < 0 then
        return fail(3)
    end
    return true
end

function Publication:add_destination(uri)
    return destination(self, uri, true, "add_destination")
end

function Publication:remove_destination(uri)
    return destination(self, uri, false, "remove_destination")
end

Publication.is_connected = state_getter("publication", C.shoal_publication_is_connected)

function Publication:is_closed()
    local h = self.h
    return h == nil or C.shoal_publication_is_closed(h)
end

-- The number getters, each shoal_publication_<name> of the live handle
-- (registration_id: the driver's id of this add_publication, what
-- response-correlation-id names).
number_getters(Publication, "publication", prefixed("shoal_publication_", { "position", "position_limit",
    "session_id", "registration_id", "stream_id", "max_message_length", "max_payload_length" }))

-- -------------------------------------------------------- subscription ----

function Subscription:_invalidate()
    if take_handle(self) ~= nil then
        self.n = 0
    end
end

Subscription.close = closer(function(self, h)
    self.n = 0
    local state = self.client.state
    local id = self.image_record
    close_child(self, function()
        C.shoal_subscription_close(h)   -- on_unavailable for the images still there
        if id ~= nil then
            images.forget(id)
            state.records[id] = nil
        end
    end)
end)

local function grow(self, max)
    local cap = self.cap
    while cap < max do
        cap = cap * 2
    end
    self.frags = ffi.new("shoal_fragment_t[?]", cap)
    self.cap = cap
end

-- The poll of poll_batch_n and poll_batch, into the preallocated array:
-- n >= 0, or < 0 when the C poll failed (shoal_errmsg tells why). Misuse
-- raises at the caller of the method (level 3).
local function poll_into_frags(self, max)
    work_if_due(self.client)
    local h = self.h
    if h == nil then
        closed_error("subscription", 3)
    end
    if max == nil then
        max = DEFAULT_BATCH
    elseif type(max) ~= "number" or max < 1 or max % 1 ~= 0 or max > 1048576 then
        error("shoal: poll_batch: max must be an integer in [1, 1048576], got " .. tostring(max), 3)
    end
    if max > self.cap then
        grow(self, max)
    end
    local n = C.shoal_subscription_poll_batch(h, self.frags, max)
    self.n = n < 0 and 0 or n
    return n
end

-- sub:poll_batch_n([max]) -> n, frags | nil, msg, code
-- frags is the subscription's preallocated shoal_fragment_t array (0-based):
-- frags[0 .. n-1].data / .length / .header, valid until the next poll.
function Subscription:poll_batch_n(max)
    local n = poll_into_frags(self, max)
    if n < 0 then
        return fail(2)
    end
    return n, self.frags
end

local function batch_iter(self, i)
    if i < self.n then
        return i + 1, self.frags[i]
    end
end

-- for i, f in sub:poll_batch([max]) do ... f.data, f.length, f.header ... end
-- Raises if the client lost its driver (see the top of this file).
function Subscription:poll_batch(max)
    if poll_into_frags(self, max) < 0 then
        error("shoal: " .. errmsg(), 2)
    end
    return batch_iter, self, 0
end

-- One C callback for every subscription (callbacks are a scarce resource);
-- the handler of the poll in progress lives in these upvalues, saved and
-- restored around each poll so nested polls work. Errors raised by the
-- handler are caught here (they must not unwind through C), the message is
-- consumed and the poll stops, then the error is re-raised from sub:poll.
local cur_fn, cur_err = nil, nil
local function on_fragment(_, buf, len, hdr)
    local ok, err = pcall(cur_fn, buf, tonumber(len), hdr)
    if ok then
        return ACTION_CONTINUE
    end
    cur_err = err
    return ACTION_BREAK
end
local poll_cb = ffi.cast("shoal_controlled_handler_t", on_fragment)
shoal._poll_cb = poll_cb   -- keep it alive for the process

-- sub:poll(fn, [limit]) -> count | nil, msg, code
-- fn(buf, len, header) for each message: buf is a const uint8_t*, header a
-- const shoal_header_t* (both valid during the call only).
function Subscription:poll(fn, limit)
    work_if_due(self.client)
    local h = self.h
    if h == nil then
        closed_error("subscription", 2)
    end
    if not is_callable(fn) then
        error("shoal: poll: handler must be a function, got " .. type(fn), 2)
    end
    if limit == nil then
        limit = 10
    else
        check_int(limit, "poll: limit", 0, 1073741824, 2)
    end
    local saved_fn, saved_err = cur_fn, cur_err
    cur_fn, cur_err = fn, nil
    local n = C.shoal_subscription_controlled_poll(h, poll_cb, nil, limit)
    local err = cur_err
    cur_fn, cur_err = saved_fn, saved_err
    if err ~= nil then
        error(err, 0)
    end
    if n < 0 then
        return fail(2)
    end
    return n
end

-- sub:wait([timeout]) -> true | false | nil, msg, code
-- Waits without spinning (shoal_subscription_wait: no CPU while idle, woken
-- by the publisher's commit) until a poll would find a message: true; false
-- after timeout seconds (nil: no timeout; 0: just look). Consumes nothing.
-- The client's duty (this module's clients run in conductor-invoker mode)
-- runs between sleeps of at most WAIT_SLICE_S, so keepalives go on and a
-- new publication's image is seen within that time.
local WAIT_SLICE_S = 0.1

function Subscription:wait(timeout)
    live_handle(self, "subscription", 2)
    if timeout ~= nil and (type(timeout) ~= "number" or timeout ~= timeout or timeout < 0) then
        error("shoal: wait: timeout must be nil or a number of seconds >= 0, got " .. tostring(timeout), 2)
    end
    local deadline = timeout and shoal.now_ns() + timeout * 1e9
    while true do
        local n, msg, code = invoke(self.client, 2)
        if n == nil then
            return nil, msg, code
        end
        local h = self.h
        if h == nil then
            closed_error("subscription", 2)   -- closed by one of its image handlers
        end
        local slice = WAIT_SLICE_S * 1e9
        if deadline then
            slice = math.max(0, math.min(slice, deadline - shoal.now_ns()))
        end
        local r = C.shoal_subscription_wait(h, slice)
        if r == 1 then
            return true
        elseif r < 0 then
            return fail(2)
        elseif deadline and shoal.now_ns() >= deadline then
            return false
        end
    end
end

Subscription.is_connected = state_getter("subscription", C.shoal_subscription_is_connected)
Subscription.image_count = state_getter("subscription", C.shoal_subscription_image_count, tonumber)

-- registration_id: the driver's id of this subscription (a requester's
-- request publication names it in response-correlation-id).
number_getters(Subscription, "subscription", prefixed("shoal_subscription_", { "registration_id", "stream_id" }))

function Subscription:is_closed()
    return self.h == nil or self.client.h == nil or C.shoal_client_is_closed(self.client.h)
end

-- ------------------------------------------------------ image handlers ----

-- Replace to route image handler errors elsewhere (e.g. a log).
function shoal.on_image_handler_error(err, image, sub)
    io.stderr:write(("shoal: image handler error (session %s, stream %s): %s\n"):format(
        tostring(image and image.session_id), tostring(image and image.stream_id), tostring(err)))
end

-- sub:poll_images() -> count: runs the client's duty now (client:do_work())
-- and returns how many image events it delivered to this subscription.
function Subscription:poll_images()
    live_handle(self, "subscription", 2)
    local id = self.image_record
    local before = id and images.delivered(id) or 0
    local n, msg, code = invoke(self.client, 2)
    if n == nil then
        return nil, msg, code
    end
    return id and images.delivered(id) - before or 0
end

-- ------------------------------------------------------------ extras ----

-- Request/response helpers (shoal_response.lua, docs/response-channels.md):
--   client:requester{ request_channel, request_stream_id, response_channel, response_stream_id }
--   client:responder{ ..., handler = function(data, header) return answer end }
-- -> the helper | nil, msg, code
local response_helpers
local function response_module()
    response_helpers = response_helpers or sibling("shoal_response")(shoal)
    return response_helpers
end

function Client:requester(opts)
    live_handle(self, "client", 2)
    return response_module().requester(self, opts)
end

function Client:responder(opts)
    live_handle(self, "client", 2)
    return response_module().responder(self, opts)
end

local CLOCK_MONOTONIC = 1
local ts = ffi.new("shoal_lua_timespec_t")

-- Monotonic clock in nanoseconds (a Lua number).
function shoal.now_ns()
    C_libc.shoal_lua_clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) * 1e9 + tonumber(ts.tv_nsec)
end

-- Sleeps for `seconds` (fractions allowed).
function shoal.sleep(seconds)
    local req = ffi.new("shoal_lua_timespec_t")
    local whole = math.floor(seconds)
    req.tv_sec = whole
    req.tv_nsec = math.floor((seconds - whole) * 1e9)
    C_libc.shoal_lua_nanosleep(req, nil)
end

function shoal.getpid()
    return tonumber(C_libc.shoal_lua_getpid())
end

-- ---------------------------------------------------------- monitoring ----
-- A driver's CnC file, read-only (shoal_cnc_* of the C API; what shoal-stat,
-- shoal-errors and shoal-loss show):
--   local cnc, err = shoal.cnc(dir)     -- nil, message, code (ENODRIVER...) without a driver
--   for _, c in ipairs(cnc:counters()) do print(c.id, c.type_id, c.label, c.value) end
--   cnc:errors()  -> { {count, first_ms, last_ms, code, text}, ... }
--   cnc:loss()    -> { {observations, bytes_lost, first_ms, last_ms, session_id, stream_id, channel, source}, ... }
--   cnc:heartbeat_age_ns(), cnc:pid(), cnc:driver_timeout_ns(), cnc:close()
local Cnc = class()

function shoal.cnc(dir)
    if dir ~= nil and type(dir) ~= "string" then
        error("shoal.cnc: dir must be a string or nil", 2)
    end
    local out = ffi.new("shoal_cnc_t *[1]")
    if C.shoal_cnc_open(out, dir) < 0 then
        return fail(1)
    end
    return setmetatable({ h = ffi.gc(out[0], C.shoal_cnc_close) }, Cnc)
end

-- Runs a foreach with a temporary callback (freed after: LuaJIT has few callback slots).
local function foreach(self, fn_type, foreach_fn, make_row)
    local h = live_handle(self, "cnc", 3)
    local rows = {}
    local cb = ffi.cast(fn_type, function(_, ...) rows[#rows + 1] = make_row(...) end)
    local rc = foreach_fn(h, cb, nil)
    cb:free()
    if rc < 0 then
        return fail(2)
    end
    return rows
end

function Cnc:counters()
    return foreach(self, "shoal_cnc_counter_fn", C.shoal_cnc_counters_foreach, function(id, type_id, label, n, value)
        return { id = tonumber(id), type_id = tonumber(type_id), label = ffi.string(label, n), value = tonumber(value) }
    end)
end

function Cnc:errors()
    return foreach(self, "shoal_cnc_error_fn", C.shoal_cnc_errors_foreach, function(count, first, last, code, text, n)
        return { count = tonumber(count), first_ms = tonumber(first), last_ms = tonumber(last), code = tonumber(code),
            text = ffi.string(text, n) }
    end)
end

function Cnc:loss()
    return foreach(self, "shoal_cnc_loss_fn", C.shoal_cnc_loss_foreach,
        function(obs, bytes, first, last, session, stream, channel, channel_n, source, source_n)
            return { observations = tonumber(obs), bytes_lost = tonumber(bytes), first_ms = tonumber(first),
                last_ms = tonumber(last), session_id = tonumber(session), stream_id = tonumber(stream),
                channel = ffi.string(channel, channel_n), source = ffi.string(source, source_n) }
        end)
end

number_getters(Cnc, "cnc", { heartbeat_age_ns = "shoal_cnc_driver_heartbeat_age_ns", pid = "shoal_cnc_driver_pid",
    driver_timeout_ns = "shoal_cnc_driver_timeout_ns" })

Cnc.close = closer(function(_, h)
    C.shoal_cnc_close(h)
end)

shoal.Cnc = Cnc

-- ------------------------------------------------------------- archive ----
-- shoal.archive.open(dir) (offline reader, no driver), shoal.archive.connect(client)
-- (an archive server's client), replay merge: shoal_archive.lua.
shoal.archive = sibling("shoal_archive")(shoal, C, { fail = fail, live_handle = live_handle, check_int = check_int,
    settle = settle, make_child = make_child, close_child = close_child, class = class, is_callable = is_callable,
    take_handle = take_handle, closer = closer })

shoal.Context, shoal.Driver, shoal.Client = Context, Driver, Client
shoal.Publication, shoal.Subscription, shoal.Claim = Publication, Subscription, Claim

function shoal.is_context(v)
    return is_context(v)
end

-- ------------------------------------------------------------- the JIT ----
-- A Lua callback (image handler, poll handler, cnc row) entered while
-- JIT-compiled code runs aborts the process (LuaJIT: "bad callback"). So no
-- function of this file is compiled, which keeps every C call that may call
-- back out of every trace, whichever function it sits in and whatever calls
-- it (a trace that reaches an interpreted function stops there). The hot
-- paths below are the exception: none of them makes such a call (their
-- client duty goes through invoke, which is interpreted). A function added to
-- this list must not call, directly or through a closure, a C function that
-- runs image handlers (the client's duty: do_work, add_*, closes,
-- destinations) or takes a Lua handler (polls, cnc rows).
-- shoal_archive.lua does the same for its functions.
if jit then
    jit.off(true, true)
    for _, fn in ipairs({ live_handle, closed_error, check_int, work_if_due, result, offered, state_getter,
        number_getters, Publication.offer, Publication.offerv, Publication.try_claim, claim_finish, Claim.commit,
        Claim.abort, Claim.is_pending, Publication.is_closed, Subscription.is_closed, Client.is_closed, grow,
        poll_into_frags, Subscription.poll_batch_n, Subscription.poll_batch, batch_iter, on_fragment, shoal.now_ns }) do
        jit.on(fn, true)   -- with its inner functions (the getters' closures)
    end
end

return shoal
