-- Renew the lock taken under a token. KEYS rec, lock, tok; ARGV owner,
-- token, ttl ms. Answers {1} or {0, newest token, holder or ''}. A live
-- entry keeps its text (node, acquisition time); a lapsed one is written
-- again without a node; a released one is not (`renewable`).
local token = tonumber(ARGV[2])
local k = tokens(nil, nil, nil, nil, ARGV[1], token)
if not renewable(k, ARGV[1], token) then return {0, k.latest, k.owner or ''} end
issue(k, token)
if k.owner then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
else
  put_lock(ARGV[1], token, ARGV[3], '')
end
return {1}
