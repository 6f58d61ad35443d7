-- Prelude: drop expired queue values (KEYS 1 q, 2 qv, 3 qe, 5 qi, 6 qm, 7
-- qh); needs `now`.
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, m in ipairs(dead) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('HDEL', KEYS[2], m)
  redis.call('ZREM', KEYS[5], m)
  redis.call('HDEL', KEYS[6], m)
  redis.call('HDEL', KEYS[7], m)
end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) end
