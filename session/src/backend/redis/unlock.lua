-- Release the lock if it is ours. KEYS rec, lock, tok (only lock is
-- touched); ARGV owner. Answers 1 when it removed our entry, else 0.
local owner = parse_lock(redis.call('GET', KEYS[2]))
if owner and owner == ARGV[1] then
  redis.call('DEL', KEYS[2])
  announce_release()
  return 1
end
return 0
