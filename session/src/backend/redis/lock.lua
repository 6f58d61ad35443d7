-- Take the lock. KEYS rec, lock, tok; ARGV owner, ttl ms.
-- Answers {1, token} (acquired under a new token) or {0, holder}.
local k = tokens()
if k.owner and k.owner ~= ARGV[1] then return {0, k.owner} end
local token = k.latest + 1
issue(k, token)
put_lock(ARGV[1], token, ARGV[2])
return {1, token}
