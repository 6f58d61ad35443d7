-- Ask a node to release a session. Prelude now. KEYS req (sorted set:
-- session id JSON → expiry ms; expired ones are dropped); ARGV session
-- id JSON, ttl ms, channel.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], '1')
return 1
