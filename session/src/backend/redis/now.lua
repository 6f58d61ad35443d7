-- Prelude: the server's time in ms as `now`, and as text `now_s` (game server
-- clocks never matter).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_s = string.format('%d', now)
