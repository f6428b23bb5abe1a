-- Request/response helpers from Lua (shoal_response.lua): client:requester /
-- client:responder over aeron:ipc and UDP response channels, in one Lua
-- state (the test interleaves the responder's polls with the requests).
local H, T, shoal = require("helper").start()
local ffi = require "ffi"

-- A UDP port of 127.0.0.1 that nothing holds now (asked with a bind through
-- the FFI), below the kernel's ephemeral range: one from that range can go
-- to any socket bound to port 0 (a driver's) before the test binds it. Each
-- process walks its own stretch from 10000 up, starting where its pid says.
ffi.cdef [[
int socket(int domain, int type, int protocol);
int bind(int fd, const void *addr, unsigned int addrlen);
int close(int fd);
]]
local AF_INET, SOCK_DGRAM = 2, 2
local sockaddr_in = ffi.typeof("struct { uint16_t family; uint8_t port[2]; uint8_t addr[4]; uint8_t zero[8]; }")
local function port_is_free(port)
    local fd = ffi.C.socket(AF_INET, SOCK_DGRAM, 0)
    if fd < 0 then
        return false
    end
    local a = sockaddr_in({ family = AF_INET, port = { math.floor(port / 256), port % 256 }, addr = { 127, 0, 0, 1 } })
    local ok = ffi.C.bind(fd, a, ffi.sizeof(a)) == 0
    ffi.C.close(fd)
    return ok
end
local next_port
local function free_port()
    local f = io.open("/proc/sys/net/ipv4/ip_local_port_range")
    local low = f and tonumber(f:read("*l"):match("^(%d+)")) or 32768
    if f then
        f:close()
    end
    local span = low - 10000
    next_port = next_port or (shoal.getpid() * 7919) % span
    for _ = 1, span do
        local port = 10000 + next_port
        next_port = (next_port + 1) % span
        if port_is_free(port) then
            return port
        end
    end
    error("no free UDP port below the ephemeral range")
end

local function channels(kind)
    if kind == "ipc" then
        return "aeron:ipc", "aeron:ipc"
    end
    return ("aeron:udp?endpoint=127.0.0.1:%d"):format(free_port()), ("aeron:udp?control=127.0.0.1:%d"):format(free_port())
end

local function pair(c, kind, n)
    local request_channel, response_channel = channels(kind)
    local served = {}
    local rsp = H.ok(c:responder{ request_channel = request_channel, request_stream_id = 3001,
        response_channel = response_channel, response_stream_id = 3002,
        handler = function(data, header)
            served[#served + 1] = tonumber(header.session_id)
            return "echo:" .. data
        end }, "responder")
    local reqs = {}
    for k = 1, n do
        reqs[k] = H.ok(c:requester{ request_channel = request_channel, request_stream_id = 3001,
            response_channel = response_channel, response_stream_id = 3002 }, "requester")
        H.ok(reqs[k].responses:registration_id() >= 0 and reqs[k].requests:registration_id() >= 0, "registration ids")
    end
    H.wait_until(function()
        rsp:poll(10)
        for k = 1, n do
            if not reqs[k]:is_connected() then
                return false
            end
        end
        return true
    end, 10, "requesters connected")
    return rsp, reqs, served
end

for _, kind in ipairs({ "ipc", "udp" }) do
    T:test(kind .. ": several requesters, several outstanding requests each, own answers only", function()
        local e = H.env()
        local rsp, reqs = pair(e.client, kind, 3)
        H.eq(rsp:requester_count(), 3, "response publications")
        for round = 1, 20 do
            local ids = {}
            for k = 1, 3 do
                ids[k] = { H.ok(reqs[k]:send(("r%d.%d.a"):format(k, round))),
                    H.ok(reqs[k]:send(("r%d.%d.b"):format(k, round))) }
            end
            for k = 1, 3 do
                for j, suffix in ipairs({ "a", "b" }) do
                    local answer = H.wait_until(function()
                        rsp:poll(16)
                        return reqs[k]:receive(ids[k][j], 0)
                    end, 10, "answer")
                    H.eq(answer, ("echo:r%d.%d.%s"):format(k, round, suffix), "answer")
                end
            end
        end
        H.eq(rsp.served, 120, "served")
        H.eq(rsp.unanswered, 0, "unanswered")
        for k = 1, 3 do
            reqs[k]:close()
        end
        rsp:close()
    end)
end

T:test("the helpers' header: 8-byte little-endian id, then the payload", function()
    local e = H.env()
    local c = e.client
    local rsp = H.ok(c:responder{ request_channel = "aeron:ipc", request_stream_id = 3001,
        response_channel = "aeron:ipc", response_stream_id = 3002,
        handler = function(data) return "got " .. data end })
    local responses = H.ok(c:add_subscription("aeron:ipc?control-mode=response", 3002))
    local requests = H.ok(c:add_publication("aeron:ipc?response-correlation-id=" .. responses:registration_id(), 3001))
    H.wait_until(function() rsp:poll(1); return requests:is_connected() end, 5, "request publication")
    local id = ffi.new("uint64_t[1]", 0x0102030405ULL)
    H.wait_until(function() return requests:offer(ffi.string(id, 8) .. "hand made") end, 5, "offer")
    local got = H.wait_until(function()
        rsp:poll(1)
        local n, frags = responses:poll_batch_n(1)
        return n > 0 and ffi.string(frags[0].data, frags[0].length)
    end, 5, "response")
    H.eq(got, ffi.string(id, 8) .. "got hand made", "response bytes")
    rsp:close()
end)

T:test("request times out when nobody serves; misuse raises; bad ids fail", function()
    local e = H.env()
    local c = e.client
    local rsp = H.ok(c:responder{ request_channel = "aeron:ipc", request_stream_id = 3001,
        response_channel = "aeron:ipc", response_stream_id = 3002, handler = function(d) return d end })
    local req = H.ok(c:requester{ request_channel = "aeron:ipc", request_stream_id = 3001,
        response_channel = "aeron:ipc", response_stream_id = 3002 })
    local answer, err = req:request("nobody polls the responder", 0.1)
    H.eq(answer, nil, "answer")
    H.eq(err, "timed out", "error")
    H.raises("handler must be a function", c.responder, c, { request_channel = "aeron:ipc", request_stream_id = 1,
        response_channel = "aeron:ipc", response_stream_id = 2 })
    H.raises("request_channel must be a string", c.requester, c, { request_stream_id = 1 })
    H.raises("987654", c.add_publication, c, "aeron:ipc?response-correlation-id=987654", 3001)
    req:close()
    rsp:close()
end)

return T
