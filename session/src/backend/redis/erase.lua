-- Erase a key (needs the fencing prelude). KEYS rec, lock, tok, hist,
-- uids, q, qv, qe, qi, qm, qh, qs; ARGV 1 the key's index member, 2 the
-- user-id index key's start (`{p:uid:`), 3 '1' when the user-id index is
-- kept (not on a Redis Cluster). Removes a live lock entry
-- (announced) and raises the counter so its owner is fenced, then the
-- record, every version, the queue and the key's user-id index entries
-- (the per-user keys are named from `uids`: on a cluster they lie in
-- other slots). Answers {record removed (1/0), versions, live queue
-- values, holder or '', {user ids}}.
local k = tokens()
local holder = ''
if k.text then
  issue(k, k.latest + 1)
  redis.call('DEL', KEYS[2])
  announce_release()
  holder = k.owner
end
local record = redis.call('HEXISTS', KEYS[1], 'value')
if record == 1 then
  redis.call('DEL', KEYS[1])
  -- Keep the token as a tombstone: tokens never repeat.
  redis.call('HSET', KEYS[1], 'token', fmt(k.record))
end
local versions = redis.call('ZCARD', KEYS[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local queued = redis.call('ZCOUNT', KEYS[8], '(' .. fmt(now), '+inf')
local users = redis.call('SMEMBERS', KEYS[5])
if ARGV[3] == '1' then
  for _, user in ipairs(users) do
    redis.call('SREM', ARGV[2] .. user .. '}', ARGV[1])
  end
end
redis.call('DEL', KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12])
return {record, versions, queued, holder, users}
