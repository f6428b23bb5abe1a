-- Request/response over response channels (docs/response-channels.md), for
-- the FFI module: client:requester{...} and client:responder{...} (shoal.lua
-- loads this file on first use).
--
-- Wire format of the helpers (the same as Python's shoal.response): every
-- request and response starts with an 8-byte little-endian unsigned request
-- id; the payload follows. The responder copies a request's id into its
-- response. Each requester has its own response stream, so ids are only
-- unique per requester.
--
--   local req = assert(client:requester{ request_channel = "aeron:udp?endpoint=host:20125",
--       request_stream_id = 10000, response_channel = "aeron:udp?control=host:20126",
--       response_stream_id = 10001 })
--   local answer, err = req:request("hello", 1.0)        -- string, or nil, "timed out"
--   local id = req:send("a"); ...; local answer = req:receive(id, 1.0)  -- several outstanding
--
--   local rsp = assert(client:responder{ request_channel = ..., request_stream_id = ...,
--       response_channel = ..., response_stream_id = ...,
--       handler = function(data, header) return "echo:" .. data end })
--   while running do rsp:poll(10) end
--
-- Everything runs on the calling Lua thread (the module's clients are in
-- conductor-invoker mode): a requester polls its response stream while it
-- waits; a responder adds its requesters' response publications in poll.
local ffi = require("ffi")

return function(shoal)
    local M = {}
    local HEADER_LENGTH = 8
    -- A requester polls this long for an answer before it sleeps in
    -- sub:wait (a fast answer costs no wake-up; a slow one no CPU).
    local SPIN_NS = 50e3
    local id_box = ffi.new("uint64_t[1]")

    local function pack_id(id)
        id_box[0] = id
        return ffi.string(id_box, HEADER_LENGTH)
    end

    local function unpack_id(buf)
        ffi.copy(id_box, buf, HEADER_LENGTH)
        return tonumber(id_box[0])
    end

    local function with_param(uri, param)
        return uri .. (uri:find("?", 1, true) and "|" or "?") .. param
    end

    local function check_opts(opts, fname, need_handler)
        if type(opts) ~= "table" then
            error(("shoal: %s: expected a table of options"):format(fname), 3)
        end
        for _, k in ipairs({ "request_channel", "response_channel" }) do
            if type(opts[k]) ~= "string" then
                error(("shoal: %s: %s must be a string"):format(fname, k), 3)
            end
        end
        for _, k in ipairs({ "request_stream_id", "response_stream_id" }) do
            if type(opts[k]) ~= "number" then
                error(("shoal: %s: %s must be a number"):format(fname, k), 3)
            end
        end
        if need_handler and type(opts.handler) ~= "function" then
            error(("shoal: %s: handler must be a function(data, header) returning a string"):format(fname), 3)
        end
    end

    -- ------------------------------------------------------------ requester

    local Requester = {}
    Requester.__index = Requester

    function M.requester(client, opts)
        check_opts(opts, "requester", false)
        local response_uri = opts.response_channel
        if not response_uri:find("control-mode=response", 1, true) then
            response_uri = with_param(response_uri, "control-mode=response")
        end
        local responses, err, code = client:add_subscription(response_uri, opts.response_stream_id)
        if not responses then
            return nil, err, code
        end
        local requests
        requests, err, code = client:add_publication(with_param(opts.request_channel,
            "response-correlation-id=" .. responses:registration_id()), opts.request_stream_id)
        if not requests then
            responses:close()
            return nil, err, code
        end
        return setmetatable({ client = client, requests = requests, responses = responses, next_id = 1,
            answers = {}, waiting = {} }, Requester)
    end

    -- Takes what arrived on the response stream; returns how many messages.
    function Requester:_poll()
        local n, frags = self.responses:poll_batch_n(64)
        if n == nil then
            error("shoal: requester: " .. tostring(frags), 3)
        end
        for i = 0, n - 1 do
            local f = frags[i]
            local len = tonumber(f.length)
            if len >= HEADER_LENGTH then
                local id = unpack_id(f.data)
                if self.waiting[id] then   -- else answered after its request timed out
                    self.answers[id] = ffi.string(f.data + HEADER_LENGTH, len - HEADER_LENGTH)
                end
            end
        end
        return n
    end

    function Requester:is_connected()
        return self.requests:is_connected() and self.responses:is_connected()
    end

    -- Waits until the responder heard us and its response stream reached us.
    function Requester:wait_connected(timeout)
        local deadline = shoal.now_ns() + (timeout or 5) * 1e9
        while not self:is_connected() do
            if shoal.now_ns() > deadline then
                return nil, "timed out"
            end
            self.client:do_work()
            shoal.sleep(0.0005)
        end
        return true
    end

    -- req:send(data [, timeout]) -> id | nil, err, code: offers one request.
    function Requester:send(data, timeout)
        local id = self.next_id
        self.next_id = id + 1
        local deadline = shoal.now_ns() + (timeout or 1) * 1e9
        local header = pack_id(id)
        while true do
            local r, err, code = self.requests:offerv({ header, data })
            if r then
                self.waiting[id] = true
                return id
            end
            if code == shoal.CLOSED or shoal.now_ns() > deadline then
                return nil, err, code
            end
        end
    end

    -- req:receive(id [, timeout]) -> string | nil, "timed out": the response to
    -- id (timeout 0: only if it is there). After a time-out the request is
    -- still awaited: receive again, or req:forget(id).
    function Requester:receive(id, timeout)
        local deadline = shoal.now_ns() + (timeout or 1) * 1e9
        local idle_since = nil
        while self.answers[id] == nil do
            local n = self:_poll()
            if n == 0 then
                local now = shoal.now_ns()
                if now >= deadline then
                    return nil, "timed out"
                end
                idle_since = idle_since or now
                if now - idle_since > SPIN_NS then
                    -- Then no CPU while the answer is on its way: woken by the
                    -- responder's commit (shoal_subscription_wait).
                    local ok, err, code = self.responses:wait(math.min((deadline - now) / 1e9, 0.01))
                    if ok == nil then
                        return nil, err, code
                    end
                end
            else
                idle_since = nil
            end
        end
        local answer = self.answers[id]
        self.answers[id], self.waiting[id] = nil, nil
        return answer
    end

    -- Stops waiting for id: its response, if it comes, is dropped.
    function Requester:forget(id)
        self.answers[id], self.waiting[id] = nil, nil
    end

    -- req:request(data [, timeout]) -> string | nil, err: send, then receive
    -- (a response after the time-out is dropped).
    function Requester:request(data, timeout)
        local start = shoal.now_ns()
        local id, err, code = self:send(data, timeout)
        if not id then
            return nil, err, code
        end
        local answer
        answer, err = self:receive(id, (timeout or 1) - (shoal.now_ns() - start) / 1e9)
        if answer == nil then
            self:forget(id)
        end
        return answer, err
    end

    function Requester:close()
        self.requests:close()
        self.responses:close()
    end

    -- ------------------------------------------------------------ responder

    local Responder = {}
    Responder.__index = Responder

    function M.responder(client, opts)
        check_opts(opts, "responder", true)
        local self = setmetatable({ client = client, opts = opts, arrived = {}, gone = {}, by_session = {},
            served = 0, unanswered = 0 }, Responder)
        local sub, err, code = client:add_subscription(opts.request_channel, opts.request_stream_id,
            function(image) self.arrived[#self.arrived + 1] = image end,
            function(image) self.gone[#self.gone + 1] = image end)
        if not sub then
            return nil, err, code
        end
        self.requests = sub
        return self
    end

    -- Response publications for requesters that arrived, closed for those gone
    -- (image handlers may not add publications: done here).
    function Responder:_update()
        local arrived, gone = self.arrived, self.gone
        if #arrived == 0 and #gone == 0 then
            return true
        end
        self.arrived, self.gone = {}, {}
        for _, image in ipairs(arrived) do
            local uri = with_param(self.opts.response_channel,
                "control-mode=response|response-correlation-id=" .. image.correlation_id)
            local pub, err, code = self.client:add_publication(uri, self.opts.response_stream_id)
            if not pub then
                return nil, err, code
            end
            self.by_session[image.session_id] = { correlation_id = image.correlation_id, pub = pub }
        end
        for _, image in ipairs(gone) do
            local entry = self.by_session[image.session_id]
            if entry and entry.correlation_id == image.correlation_id then
                entry.pub:close()
                self.by_session[image.session_id] = nil
            end
        end
        return true
    end

    function Responder:_serve(buf, len, header)
        local session = tonumber(header.session_id)
        local entry = self.by_session[session]
        if entry == nil or len < HEADER_LENGTH then
            self.unanswered = self.unanswered + 1
            return
        end
        local answer = self.opts.handler(ffi.string(buf + HEADER_LENGTH, len - HEADER_LENGTH), header)
        local id = ffi.string(buf, HEADER_LENGTH)
        local deadline = shoal.now_ns() + (self.opts.offer_timeout or 1) * 1e9
        -- The response publication connects a round trip after it was made.
        while true do
            local r, _, code = entry.pub:offerv({ id, answer })
            if r then
                self.served = self.served + 1
                return
            end
            if code == shoal.CLOSED or shoal.now_ns() > deadline then
                self.unanswered = self.unanswered + 1
                return
            end
        end
    end

    -- rsp:poll([limit]) -> requests taken | nil, err, code
    function Responder:poll(limit)
        local n, frags, code = self.requests:poll_batch_n(limit or 10)
        if n == nil then
            return nil, frags, code
        end
        -- After the poll: its image handlers (run inside it) may have brought
        -- the requesters of these very requests. The views stay valid until
        -- the next poll of the subscription.
        local ok, err
        ok, err, code = self:_update()
        if not ok then
            return nil, err, code
        end
        for i = 0, n - 1 do
            local f = frags[i]
            self:_serve(f.data, tonumber(f.length), f.header)
        end
        return n
    end

    function Responder:requester_count()
        local n = 0
        for _ in pairs(self.by_session) do
            n = n + 1
        end
        return n
    end

    function Responder:close()
        self.requests:close()
        for _, entry in pairs(self.by_session) do
            entry.pub:close()
        end
        self.by_session = {}
    end

    M.HEADER_LENGTH = HEADER_LENGTH
    M.Requester, M.Responder = Requester, Responder
    return M
end
