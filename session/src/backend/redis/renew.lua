-- Renew the lock taken under a token. KEYS rec, lock, tok; ARGV owner,
-- token, ttl ms. Answers {1} or {0, newest token, holder or ''}.
local k = tokens()
local token = tonumber(ARGV[2])
if not admits(k, ARGV[1], token) then return {0, k.latest, k.owner or ''} end
issue(k, token)
put_lock(ARGV[1], token, ARGV[3])
return {1}
