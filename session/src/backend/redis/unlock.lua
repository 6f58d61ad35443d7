-- Release the lock if it is ours. KEYS rec, lock, tok (tok untouched);
-- ARGV owner, then the token it took the lock under ('' for any of the
-- owner's). Answers 1 when it removed our entry, else 0. The entry's
-- token is remembered as released (no late renewal writes it again); with
-- a token given, it is remembered even when no entry of ours lives (it
-- lapsed): a newer owner's token is above it, so nothing of theirs is
-- touched.
local owner, token = parse_lock(redis.call('GET', KEYS[2]))
local mine = ARGV[2] == '' or token == tonumber(ARGV[2])
if owner and owner == ARGV[1] and mine then
  redis.call('DEL', KEYS[2])
  mark_released(token)
  announce_release()
  return 1
end
if ARGV[2] ~= '' then
  local given = tonumber(ARGV[2])
  if (tonumber(redis.call('HGET', KEYS[1], 'released')) or 0) < given then
    mark_released(given)
  end
end
return 0
