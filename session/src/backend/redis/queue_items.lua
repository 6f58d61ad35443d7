-- List a queue without handing anything out (preludes now, tokens). KEYS
-- q, qv, qe, qi, qm, qh, lock. Answers, in reading order, each value that
-- has not expired as {member, value, score (-priority), expiry ms,
-- invisible (1/0)}: invisible when held by the live entry, or (not held)
-- while its invisibility time runs.
local text = redis.call('GET', KEYS[7])
local live = nil
if text then
  local owner, token = parse_lock(text)
  live = fmt(token) .. ':' .. owner
end
local out = {}
local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do
  local m = members[i]
  local expires = tonumber(redis.call('ZSCORE', KEYS[3], m))
  if expires and expires > now then
    local held = redis.call('HGET', KEYS[6], m)
    local invisible = 0
    if held then
      if live and held == live then invisible = 1 end
    elseif (tonumber(redis.call('ZSCORE', KEYS[4], m)) or 0) > now then
      invisible = 1
    end
    out[#out + 1] = {m, redis.call('HGET', KEYS[2], m) or '', members[i + 1], fmt(expires), invisible}
  end
end
return out
