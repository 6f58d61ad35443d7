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
  local members = {}
  for m in pairs(found) do members[#members + 1] = m end
  -- One command per key for up to 500 members (not six per member), so a
  -- save carrying many acknowledgements stays one short script run.
  for i = 1, #members, 500 do
    local chunk = {unpack(members, i, math.min(i + 499, #members))}
    redis.call('ZREM', Q[1], unpack(chunk))
    redis.call('HDEL', Q[2], unpack(chunk))
    redis.call('ZREM', Q[3], unpack(chunk))
    redis.call('ZREM', Q[4], unpack(chunk))
    redis.call('HDEL', Q[5], unpack(chunk))
    redis.call('HDEL', Q[6], unpack(chunk))
  end
  return #members
end
