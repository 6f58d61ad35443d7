-- Release the lock if it is ours. KEYS lock (string `token:owner`); ARGV
-- owner. Answers 1 when it removed our entry, else 0.
local v = redis.call('GET', KEYS[1])
if v and (v == ARGV[1] or string.match(v, '^%d+:(.*)$') == ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
