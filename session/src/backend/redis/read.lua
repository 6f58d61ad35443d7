-- Read visible values. Preludes now, purge, tokens (for `parse_lock`).
-- KEYS q, qv, qe, qs, qi, qm, qh, lock; ARGV count, invisibility ms, read
-- id, holder (`token:owner` of the reader's lock; '' for a plain read).
-- A value handed out to a holder (qh: member → `token:owner`) is hidden
-- for as long as the live lock entry is exactly that owner and token, and
-- visible at once when it is not; any other value is hidden until its time
-- in qi. Answers {values read, ms until a hidden value may show (-1: none),
-- each value's age in ms (-1: pushed before members held their push time)};
-- the values are empty when none is visible.
local owner, token = parse_lock(redis.call('GET', KEYS[8]))
local live = owner and (fmt(token) .. ':' .. owner)
local function hidden(m)
  local h = redis.call('HGET', KEYS[7], m)
  if h then return h == live end
  local t = tonumber(redis.call('ZSCORE', KEYS[5], m))
  return t ~= nil and t > now
end
-- A holder that no longer holds the lock reads nothing: its session can
-- never save what it would apply.
if ARGV[4] ~= '' and ARGV[4] ~= live then return {{}, -1} end
local count = tonumber(ARGV[1])
local picked = {}
local start = 0
while #picked < count do
  local batch = redis.call('ZRANGE', KEYS[1], start, start + 99)
  if #batch == 0 then break end
  for _, m in ipairs(batch) do
    if not hidden(m) then
      picked[#picked + 1] = m
      if #picked >= count then break end
    end
  end
  start = start + 100
end
local values = {}
if #picked == 0 then
  -- When to look again: the first invisibility to end, or the expiry of
  -- the lock entry holding values.
  local show = -1
  local soon = redis.call('ZRANGEBYSCORE', KEYS[5], '(' .. fmt(now), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #soon > 0 then show = tonumber(soon[2]) - now end
  if live and redis.call('HLEN', KEYS[7]) > 0 then
    local left = redis.call('PTTL', KEYS[8])
    if left >= 0 and (show < 0 or left < show) then show = left end
  end
  return {values, show}
end
local until_ms = now + tonumber(ARGV[2])
local ages = {}
for i, m in ipairs(picked) do
  values[i] = redis.call('HGET', KEYS[2], m)
  local pushed = tonumber(string.match(m, ':(%d+)$'))
  ages[i] = pushed and math.max(now - pushed, 0) or -1
  if ARGV[4] ~= '' then
    redis.call('HSET', KEYS[7], m, ARGV[4])
    redis.call('ZREM', KEYS[5], m)
  else
    redis.call('HDEL', KEYS[7], m)
    redis.call('ZADD', KEYS[5], until_ms, m)
  end
  redis.call('HSET', KEYS[6], m, ARGV[3])
end
local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')[2]
for i = 5, 7 do redis.call('PEXPIREAT', KEYS[i], last) end
return {values, -1, ages}
