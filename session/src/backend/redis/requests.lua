-- Take a node's pending release requests. Prelude now. KEYS req. Answers
-- the session ids (JSON) of the requests not yet expired, oldest first,
-- and removes them all.
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
redis.call('DEL', KEYS[1])
return live
