-- Read a lock entry and its remaining life. KEYS lock. Answers {entry text
-- or nil, PTTL ms}.
return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}
