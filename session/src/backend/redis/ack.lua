-- Prelude: acknowledging queue values. `Q` names one session's queue keys
-- {q, qv, qe, qi, qm, qh}; `ids` is a set (read id → true). Removes every
-- value handed out under one of `ids` (with its times, read id and
-- holder); answers how many.
local function ack(Q, ids)
  local all = redis.call('HGETALL', Q[5])
  local n = 0
  for i = 1, #all, 2 do
    if ids[all[i + 1]] then
      local m = all[i]
      redis.call('ZREM', Q[1], m)
      redis.call('HDEL', Q[2], m)
      redis.call('ZREM', Q[3], m)
      redis.call('ZREM', Q[4], m)
      redis.call('HDEL', Q[5], m)
      redis.call('HDEL', Q[6], m)
      n = n + 1
    end
  end
  return n
end
