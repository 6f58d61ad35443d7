-- Write or remove the record. KEYS rec, lock, tok; ARGV mode (s/r), fenced
-- (1/0), owner, token, release (1/0), version, value, metadata, user ids,
-- data version, readable from.
-- Answers {0, newest token, holder or ''} when fenced, else
-- {1, created, updated, version, token}. A removal leaves a tombstone (the
-- hash with only `token`), so a lost counter cannot repeat its token. A
-- release is announced on `T:unlock`.
local k = tokens()
local token = k.latest
if ARGV[2] == '1' then
  token = tonumber(ARGV[4])
  if not admits(k, ARGV[3], token) then return {0, k.latest, k.owner or ''} end
  issue(k, token)
end
local out
if ARGV[1] == 'r' then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'token', fmt(token))
  out = {1, 0, 0, '', token}
else
  local created = tonumber(redis.call('HGET', KEYS[1], 'created_ms')) or now
  redis.call('HSET', KEYS[1], 'value', ARGV[7], 'metadata', ARGV[8], 'user_ids', ARGV[9],
    'created_ms', fmt(created), 'updated_ms', fmt(now), 'version', ARGV[6], 'token', fmt(token),
    'data_version', ARGV[10], 'readable_from', ARGV[11])
  out = {1, created, now, ARGV[6], token}
end
if ARGV[2] == '1' and ARGV[5] == '1' and k.owner == ARGV[3] then
  redis.call('DEL', KEYS[2])
  announce_release()
end
return out
