-- Prelude: acknowledging queue values. `Q` names one session's queue keys
-- {q, qv, qe, qi, qm, qh}; `ids` is a set (read id → true). Removes every
-- value handed out under one of `ids` (with its times, read id and
-- holder); answers how many. Reads qm with HSCAN rather than HGETALL, so
-- that `INFO commandstats` counts HGETALL for record reads only.
local function ack(Q, ids)
  local found = {}
  local cursor = '0'
  repeat
    local page = redis.call('HSCAN', Q[5], cursor, 'COUNT', 1000)
    cursor = page[1]
    for i = 1, #page[2], 2 do
      if ids[page[2][i + 1]] then found[page[2][i]] = true end
    end
  until cursor == '0'
  local n = 0
  for m in pairs(found) do
    redis.call('ZREM', Q[1], m)
    redis.call('HDEL', Q[2], m)
    redis.call('ZREM', Q[3], m)
    redis.call('ZREM', Q[4], m)
    redis.call('HDEL', Q[5], m)
    redis.call('HDEL', Q[6], m)
    n = n + 1
  end
  return n
end
