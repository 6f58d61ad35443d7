-- Release the lock if it is ours. KEYS rec, lock, tok (tok untouched);
-- ARGV owner. Answers 1 when it removed our entry, else 0. The entry's
-- token is remembered as released (no late renewal writes it again).
local owner, token = parse_lock(redis.call('GET', KEYS[2]))
if owner and owner == ARGV[1] then
  redis.call('DEL', KEYS[2])
  mark_released(token)
  announce_release()
  return 1
end
return 0
