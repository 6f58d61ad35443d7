-- Remove the values handed out under a read id. KEYS q, qv, qe, qs, qi,
-- qm; ARGV read id. Answers how many it removed.
local all = redis.call('HGETALL', KEYS[6])
local n = 0
for i = 1, #all, 2 do
  if all[i + 1] == ARGV[1] then
    local m = all[i]
    redis.call('ZREM', KEYS[1], m)
    redis.call('HDEL', KEYS[2], m)
    redis.call('ZREM', KEYS[3], m)
    redis.call('ZREM', KEYS[5], m)
    redis.call('HDEL', KEYS[6], m)
    n = n + 1
  end
end
return n
