-- Take the lock. KEYS rec, lock, tok; ARGV owner, ttl ms, node lines (''
-- for none), replacing (1/0), replaced owner, replaced token.
-- Answers {1, token} (acquired under a new token) or {0, entry text}.
local k = tokens()
if k.owner and k.owner ~= ARGV[1] then
  local replaces = ARGV[4] == '1' and k.owner == ARGV[5] and k.entry == tonumber(ARGV[6])
  if not replaces then return {0, k.text} end
end
local token = k.latest + 1
issue(k, token)
put_lock(ARGV[1], token, ARGV[2], ARGV[3])
if k.owner then announce_release() end
return {1, token}
