-- Prelude: the fencing rule (see the `backend` module's "Fencing tokens").
-- KEYS 1 rec (hash, fields `token` and `released`: the token of the last
-- entry its owner released), 2 lock (string: `token:owner`, then,
-- when a node is known, `\n`-separated node id, host, pid and acquisition
-- ms; PX expiry; a bare `owner` written before tokens existed counts as
-- token 0), 3 tok (the counter: the last token issued for the key).
local function fmt(n) return string.format('%d', n) end

-- The owner and token of a lock entry's text: its first line only, so an
-- entry with a node compares like one without.
local function parse_lock(v)
  if not v then return nil, 0 end
  local head = string.match(v, '^[^\n]*')
  local token, owner = string.match(head, '^(%d+):(.*)$')
  if token then return owner, tonumber(token) end
  return head, 0
end

-- What the store knows about a key's tokens, given the lock entry's text
-- `text` as read (false when none lives; `tokens` below reads it). `rec`
-- and `tok` name the session's keys (default KEYS 1 and 3; a script
-- saving several sessions passes each one's; `tok` is kept in the
-- answer). `more` (optional) names further fields of `rec` read in the
-- same `HMGET`, answered in `k.held` after `token` and `released`. When
-- the live entry is exactly `mine_owner`'s under `mine_token` (both
-- optional), the counter is not read: that entry's acquisition issued its
-- token and no other is issued while it lives, so the entry's token
-- stands for it (a write then never raises it; the record it writes holds
-- the token too).
local NO_FIELDS = {}
local function tokens_of(text, rec, tok, more, mine_owner, mine_token)
  local owner, entry = parse_lock(text)
  local held = redis.call('HMGET', rec or KEYS[1], 'token', 'released', unpack(more or NO_FIELDS))
  local counter
  if owner ~= nil and owner == mine_owner and entry == mine_token then
    counter = entry
  else
    counter = tonumber(redis.call('GET', tok or KEYS[3])) or 0
  end
  local record = tonumber(held[1]) or 0
  local latest = counter
  if record > latest then latest = record end
  if entry > latest then latest = entry end
  -- One constructor: a table grown field by field is rehashed on the way.
  return {
    tok = tok or KEYS[3], text = text, owner = owner, entry = entry, counter = counter,
    record = record, released = tonumber(held[2]) or 0, held = held, latest = latest,
  }
end

-- `tokens_of` the entry at `lock` (default KEYS[2]), read here; `lock`
-- names the lock key as `rec` and `tok` name theirs.
local function tokens(rec, lock, tok, more, mine_owner, mine_token)
  return tokens_of(redis.call('GET', lock or KEYS[2]), rec, tok, more, mine_owner, mine_token)
end

-- Whether the entry's text `text` (false when none lives) is exactly
-- `owner`'s under the token written `token_s` (as every entry's token is
-- written: decimal, no leading zero). A save's common case, checked
-- without parsing the entry: what `tokens` would answer is then known
-- (the write is admitted, and no token above ours was issued), so the
-- counter need not be read nor the record's tokens parsed.
local function is_entry(text, owner, token_s)
  if not text then return false end
  local n = #token_s + 1 + #owner
  if #text < n or string.find(text, token_s .. ':' .. owner, 1, true) ~= 1 then return false end
  return #text == n or string.byte(text, n + 1) == 10
end

-- May `owner` write or renew under `token`? The live entry is exactly ours,
-- or no entry lives and no token above ours is known.
local function admits(k, owner, token)
  if k.owner then return k.owner == owner and k.entry == token end
  return k.latest <= token
end

-- May `owner` renew its lock under `token`? As `admits`, and with no live
-- entry only when that token's entry lapsed rather than being released: a
-- renewal sent before its session released and landing after the release
-- would take the lock again for a whole time to live.
local function renewable(k, owner, token)
  return admits(k, owner, token) and (k.owner ~= nil or k.released < token)
end

-- Remembers that the owner of the entry under `token` (a number, or its
-- text) released it (on the record hash `rec`, default KEYS[1]; a hash
-- with no `value` reads as no record).
local function mark_released(token, rec)
  redis.call('HSET', rec or KEYS[1], 'released', type(token) == 'string' and token or fmt(token))
end

-- Remembers `token` as issued (a lost counter is repaired, never lowered).
local function issue(k, token)
  if k.counter < token then redis.call('SET', k.tok, fmt(token)) end
end

-- Writes `owner`'s lock entry under `token` for `ttl` ms, at `lock`
-- (default KEYS[2]). `node` is empty or the entry's node lines (`\n` id,
-- host, pid); with a node, the acquisition time (the server's clock) ends
-- the entry.
local function put_lock(owner, token, ttl, node, lock)
  local text = fmt(token) .. ':' .. owner
  if node and node ~= '' then
    local t = redis.call('TIME')
    text = text .. node .. '\n' .. fmt(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
  end
  redis.call('SET', lock or KEYS[2], text, 'PX', ttl)
end

-- Announces that the entry `lock` (`T:lock`, default KEYS[2]) changed
-- hands: on `T:unlock`, waking the release waits of every process, and on
-- `T:push`, waking the queue readers (values held by the old entry are
-- visible again).
local function announce_release(lock)
  local base = string.sub(lock or KEYS[2], 1, -5)
  redis.call('PUBLISH', base .. 'unlock', '1')
  redis.call('PUBLISH', base .. 'push', '1')
end
