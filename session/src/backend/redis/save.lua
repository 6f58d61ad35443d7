-- Prelude: one session's save step (needs now, tokens, ack, history). A
-- script run's arguments open with its settings (see `settings`). A
-- step's keys follow KEYS index `ko`: rec, lock, tok, then, when it has
-- acks, q, qv, qe, qi, qm, qh, then hist, uids and (when `INDEXED`) one
-- user-id index key per user id. Its arguments follow ARGV index `ao`:
-- mode (s/r/p: set, remove, put as given), fenced (1/0), owner, token,
-- release (1/0), version, value, metadata, user ids, data version,
-- readable from (those six empty for a removal), the ack count, then that
-- many read ids, then the user id count and, when there are any, the
-- key's index member and the user ids, then, for a put, its created,
-- updated and token.
--
-- Steps run often (a save is one), so this prelude reads the arguments
-- where they lie instead of copying them into a table by name: a table
-- of thirty named fields cost more than the step's own fence check.

-- Where a step's keys and arguments lie: {ko, ao, ack count, ARGV index
-- of the user id count, user id count, KEYS index of hist, ARGV index a
-- put's times follow (the last user id's, or the count's without any)},
-- and the next step's `ko` and `ao`.
local function parse_step(ko, ao)
  -- Most steps carry no acks and no user ids: '0' compares as text
  -- (interned), far cheaper than `tonumber`.
  local n = ARGV[ao + 12] == '0' and 0 or tonumber(ARGV[ao + 12])
  local b = ao + 13 + n
  local u = ARGV[b] == '0' and 0 or tonumber(ARGV[b])
  local kh = ko + (n > 0 and 10 or 4)
  local pa = b + (u > 0 and u + 1 or 0)
  local next_ao = pa + (ARGV[ao + 1] == 'p' and 3 or 0)
  return {ko, ao, n, b, u, kh, pa}, kh + 1 + (INDEXED and u or 0), next_ao
end

-- A step's fence checked alone (`save_many.lua` checks every step's
-- before writing any): nil when it admits the write (or the step is
-- unfenced), else the newest token and the holder ('' when none).
local function step_refusal(st)
  local ko, ao = st[1], st[2]
  if ARGV[ao + 2] ~= '1' then return nil end
  local k = tokens(KEYS[ko + 1], KEYS[ko + 2], KEYS[ko + 3])
  if admits(k, ARGV[ao + 3], tonumber(ARGV[ao + 4])) then return nil end
  return k.latest, k.owner or ''
end

-- The created time (text) of a record whose fields `h` were read with
-- `STEP_FIELDS` first; now for a record without one.
local function created_of(h)
  return tonumber(h[3]) and h[3] or now_s
end

-- Releases the fenced entry under `token` (a number or its text) after a
-- write (see `save`); `live` when the entry still lives (it is then the
-- writer's: the fence admitted the write).
local function release(live, token, rec, lock)
  -- Final even when the entry had lapsed: no late renewal writes it again.
  mark_released(token, rec)
  if live then
    redis.call('DEL', lock)
    announce_release(lock)
  end
end

-- A step's fence (`save` and `touch`): reads the entry at `lock` and the
-- record's fields (`rec`: `token`, `released`, then `more`). Answers
-- whether the write is refused, the fields read and what `tokens` knows
-- (nil on the common path, where the live entry is exactly `owner`'s under
-- `token_s`: admitted, no token above it, nothing else to know). `mine`
-- (for a step that may trust a live entry of its own, see `tokens`) is
-- false for a put, which reads the counter whatever the entry.
local function fence(rec, lock, tok, more, owner, token_s, mine)
  local text = redis.call('GET', lock)
  if mine and is_entry(text, owner, token_s) then
    return false, redis.call('HMGET', rec, 'token', 'released', unpack(more))
  end
  local token = tonumber(token_s)
  local k = tokens_of(text, rec, tok, more, mine and owner or nil, token)
  return not admits(k, owner, token), k.held, k
end

-- Applies a step (`st`, from `parse_step`): when fenced out, nothing
-- changes and the answer is 0, the newest token and the holder ('' when
-- none); else the write, the release (announced) and the acks, and the
-- answer 1, created, updated, token (those three as text) and version. A
-- removal leaves a tombstone (the hash with only `token`), so a lost
-- counter cannot repeat its token.
local function save(st)
  local ko, ao, n, b, u, kh, pa = st[1], st[2], st[3], st[4], st[5], st[6], st[7]
  local rec, lock = KEYS[ko + 1], KEYS[ko + 2]
  local mode, fenced, owner, token_s = ARGV[ao + 1], ARGV[ao + 2] == '1', ARGV[ao + 3], ARGV[ao + 4]
  local fence_s = token_s -- the fence's token (a put writes its own)
  local more = KEEP > 0 and KEPT_FIELDS or STEP_FIELDS
  local refused, h, k
  if fenced then
    refused, h, k = fence(rec, lock, KEYS[ko + 3], more, owner, token_s, mode ~= 'p')
    if refused then return 0, k.latest, k.owner or '' end
    if k then issue(k, tonumber(token_s)) end
  else
    k = tokens(rec, lock, KEYS[ko + 3], more)
    h = k.held
    token_s = fmt(k.latest)
  end
  local version = ARGV[ao + 6]
  local hseq = keep_version(KEYS[kh], version, mode == 'r', h)
  local created_s, updated_s
  if mode == 'r' then
    redis.call('DEL', rec)
    redis.call('HSET', rec, 'token', token_s)
    created_s, updated_s, version = '0', '0', ''
  else
    if mode == 'p' then
      created_s, updated_s, token_s = ARGV[pa + 1], ARGV[pa + 2], ARGV[pa + 3]
      redis.call('DEL', rec)
    else
      created_s = created_of(h)
      updated_s = now_s
    end
    if mode == 's' and created_s == h[3] and token_s == h[1] then
      -- The common save: the record's creation time and token stand.
      redis.call('HSET', rec, 'value', ARGV[ao + 7], 'metadata', ARGV[ao + 8],
        'user_ids', ARGV[ao + 9], 'updated_ms', updated_s, 'version', version,
        'data_version', ARGV[ao + 10], 'readable_from', ARGV[ao + 11], 'hseq', hseq)
    else
      redis.call('HSET', rec, 'value', ARGV[ao + 7], 'metadata', ARGV[ao + 8],
        'user_ids', ARGV[ao + 9], 'created_ms', created_s, 'updated_ms', updated_s,
        'version', version, 'token', token_s, 'data_version', ARGV[ao + 10],
        'readable_from', ARGV[ao + 11], 'hseq', hseq)
    end
    index_users(kh, b, u)
  end
  if fenced and ARGV[ao + 5] == '1' then
    release(not k or k.owner == owner, fence_s, rec, lock)
  end
  if n > 0 then
    local ids = {}
    for i = 1, n do ids[ARGV[ao + 12 + i]] = true end
    ack({KEYS[ko + 4], KEYS[ko + 5], KEYS[ko + 6], KEYS[ko + 7], KEYS[ko + 8], KEYS[ko + 9]}, ids)
  end
  return 1, created_s, updated_s, token_s, version
end

-- Touches a record (an unchanged auto-save's rewrite; `touch_each.lua`'s
-- step `st`: {ko, ao}; KEYS rec, lock, tok, hist; ARGV owner, token, new
-- version, the version the record must hold, the lock's ttl in ms). A
-- record that still holds that version gets the new version, times and
-- token (value, metadata, user ids and data version stay), the replaced
-- record kept as a version; answers as `save`, or 3 for 1 when the touch
-- renewed the lock (ttl above 0: as `renew.lua` does it; a released entry
-- is not written again). A record holding another version is left alone
-- and answers 2: the client writes it in full.
local function touch(st)
  local ko, ao = st[1], st[2]
  local rec, lock = KEYS[ko + 1], KEYS[ko + 2]
  local owner, token_s = ARGV[ao + 1], ARGV[ao + 2]
  local more = KEEP > 0 and KEPT_FIELDS or STEP_FIELDS
  local refused, h, k = fence(rec, lock, KEYS[ko + 3], more, owner, token_s, true)
  if refused then return 0, k.latest, k.owner or '' end
  if h[4] ~= ARGV[ao + 4] then return 2 end
  if k then issue(k, tonumber(token_s)) end
  local version = ARGV[ao + 3]
  local hseq = keep_version(KEYS[ko + 4], version, false, h)
  redis.call('HSET', rec, 'updated_ms', now_s, 'version', version, 'token', token_s, 'hseq', hseq)
  local flag = 1
  local ttl = tonumber(ARGV[ao + 5])
  if ttl > 0 and (not k or renewable(k, owner, tonumber(token_s))) then
    if not k or k.owner then
      redis.call('PEXPIRE', lock, ttl)
    else
      put_lock(owner, tonumber(token_s), ttl, '', lock)
    end
    flag = 3
  end
  return flag, created_of(h), now_s, token_s, version
end

-- The length of `text` as decimal text, spelt digit by digit up to 99: a
-- number in a concatenation, like `string.format`, goes through C's
-- sprintf, the dearest part of an answer line.
local function length_of(text)
  local n = #text
  if n < 10 then return string.char(48 + n) end
  if n < 100 then return string.char(48 + math.floor(n / 10), 48 + n % 10) end
  return fmt(n)
end

-- The answers of several steps (`save_each.lua`, `touch_each.lua`) as one
-- text, each step applied (by `apply`, `save` or `touch`) and answered on
-- its own, in order: a line per step, `flag a b c n:text` (n the text's
-- length in bytes, the text right after the colon): `1 created updated
-- token n:version` (written), `3 created updated token n:version` (a touch
-- written that renewed its lock), `0 token 0 0 n:holder` (refused by the
-- fence; holder '' when none), `2 0 0 0 0:` (a touch whose record changed)
-- or `-1 0 0 0 n:error` (Redis failed the step, e.g. out of memory; the
-- others go on). The formatting runs under the same pcall as the step, so
-- nothing in one step can fail the others.
local function each_line(flag, a, b, c, text)
  return flag .. ' ' .. a .. ' ' .. b .. ' ' .. c .. ' ' .. length_of(text) .. ':' .. text
end

local function each_answer(apply, st)
  local flag, a, b, c, text = apply(st)
  if flag == 0 then return each_line('0', fmt(a), '0', '0', b) end
  if flag == 2 then return '2 0 0 0 0:' end
  return each_line(flag == 3 and '3' or '1', a, b, c, text)
end

local function each_answers(apply, steps)
  local out = {}
  for i, st in ipairs(steps) do
    local ok, a = pcall(each_answer, apply, st)
    if ok then
      out[i] = a
    else
      out[i] = each_line('-1', '0', '0', '0', tostring(type(a) == 'table' and (a.err or a) or a))
    end
  end
  return table.concat(out)
end

-- A written step's answer as a list (`set.lua`, `save_many.lua`): {0,
-- newest token, holder} or {1, created, updated, version, token}.
local function answer_list(flag, a, b, c, text)
  if flag == 0 then return {0, a, b} end
  return {1, tonumber(a), tonumber(b), text, tonumber(c)}
end
