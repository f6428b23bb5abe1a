-- Run as a separate process by test_pubsub.lua (a regression would abort the
-- whole interpreter): sub:poll is made hot, and JIT-compiled if it could be,
-- while no message arrives, then a message arrives. LuaJIT panics with "bad
-- callback" if the C poll (which calls back into Lua) sits in a trace.
package.path = arg[1] .. "/?.lua;" .. package.path
local H = require "helper"
local e = H.env()
local pub, sub = e:pubsub(9, true)
local got = 0
local function on()
    got = got + 1
end
local function spin(n)
    local t = 0
    for _ = 1, n do
        t = t + sub:poll(on, 10)
    end
    return t
end
spin(100000)
assert(pub:offer("x"))
spin(100)
e:close()
print("jit_poll_check: got " .. got)
