-- Prelude: the fencing rule (see the `backend` module's "Fencing tokens").
-- KEYS 1 rec (hash, field `token`), 2 lock (string `token:owner`, PX
-- expiry; a bare `owner` written before tokens existed counts as token 0),
-- 3 tok (the counter: the last token issued for the key).
local function fmt(n) return string.format('%d', n) end

-- The owner and token of a lock entry's text.
local function parse_lock(v)
  if not v then return nil, 0 end
  local token, owner = string.match(v, '^(%d+):(.*)$')
  if token then return owner, tonumber(token) end
  return v, 0
end

-- What the store knows about the key's tokens.
local function tokens()
  local owner, entry = parse_lock(redis.call('GET', KEYS[2]))
  local k = {
    owner = owner,
    entry = entry,
    counter = tonumber(redis.call('GET', KEYS[3])) or 0,
    record = tonumber(redis.call('HGET', KEYS[1], 'token')) or 0,
  }
  k.latest = math.max(k.counter, k.record, k.entry)
  return k
end

-- May `owner` write or renew under `token`? The live entry is exactly ours,
-- or no entry lives and no token above ours is known.
local function admits(k, owner, token)
  if k.owner then return k.owner == owner and k.entry == token end
  return k.latest <= token
end

-- Remembers `token` as issued (a lost counter is repaired, never lowered).
local function issue(k, token)
  if k.counter < token then redis.call('SET', KEYS[3], fmt(token)) end
end

-- Writes `owner`'s lock entry under `token` for `ttl` ms.
local function put_lock(owner, token, ttl)
  redis.call('SET', KEYS[2], fmt(token) .. ':' .. owner, 'PX', ttl)
end
