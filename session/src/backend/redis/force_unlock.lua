-- Admin unlock. KEYS rec, lock, tok. Removes the entry whoever holds it
-- and raises the counter to the next token, so its owner is fenced.
-- Answers the removed entry's text, or nil when none was live.
local k = tokens()
issue(k, k.latest + 1)
if not k.text then return false end
redis.call('DEL', KEYS[2])
announce_release()
return k.text
