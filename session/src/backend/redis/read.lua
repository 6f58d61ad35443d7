-- Read visible values. Preludes now, purge. KEYS q, qv, qe, qs, qi, qm;
-- ARGV count, invisibility ms, read id. Answers the values read (empty when
-- none is visible).
local count = tonumber(ARGV[1])
local picked = {}
local start = 0
while #picked < count do
  local batch = redis.call('ZRANGE', KEYS[1], start, start + 99)
  if #batch == 0 then break end
  for _, m in ipairs(batch) do
    local hidden = tonumber(redis.call('ZSCORE', KEYS[5], m))
    if hidden == nil or hidden <= now then
      picked[#picked + 1] = m
      if #picked >= count then break end
    end
  end
  start = start + 100
end
local values = {}
if #picked == 0 then return values end
local until_ms = now + tonumber(ARGV[2])
for i, m in ipairs(picked) do
  values[i] = redis.call('HGET', KEYS[2], m)
  redis.call('ZADD', KEYS[5], until_ms, m)
  redis.call('HSET', KEYS[6], m, ARGV[3])
end
local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')[2]
redis.call('PEXPIREAT', KEYS[5], last)
redis.call('PEXPIREAT', KEYS[6], last)
return values
