-- Push a value. Preludes now, purge. KEYS q, qv, qe, qs, qi, qm, qh; ARGV
-- value, expiration ms, score (-priority), channel. A member is the
-- push's sequence number and time (`<16 digits>:<ms>`: the sequence keeps
-- pushes of one priority in order, the time gives the queue lag on read).
local m = string.format('%016d:%d', redis.call('INCR', KEYS[4]), now)
redis.call('ZADD', KEYS[1], ARGV[3], m)
redis.call('HSET', KEYS[2], m, ARGV[1])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), m)
local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')[2]
for i = 1, 7 do redis.call('PEXPIREAT', KEYS[i], last) end
redis.call('PUBLISH', ARGV[4], '1')
return 1
