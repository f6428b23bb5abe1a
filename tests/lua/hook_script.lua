-- A runner script for the runner's own tests: MODE is "timer" (count ticks
-- until stopped), "fail" (on_timer raises) or "return" (hooks in a returned table).
local mode = ...
local ticks = 0
local M = {
    config = { timer_ms = 20 },
    on_start = function()
        print("hook_script: started " .. tostring(mode))
        io.stdout:flush()
    end,
    on_timer = function()
        ticks = ticks + 1
        if mode == "fail" and ticks == 3 then
            error("on_timer exploded")
        end
    end,
    on_stop = function()
        print("hook_script: stopped after " .. ticks .. " ticks")
    end,
}
if mode == "return" then
    return M
end
-- globals form
config, on_start, on_timer, on_stop = M.config, M.on_start, M.on_timer, M.on_stop
