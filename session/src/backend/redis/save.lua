-- Prelude: one session's save step (needs now, tokens, ack, history). A
-- step's keys follow KEYS index `ko`: rec, lock, tok, then, when it has
-- acks, q, qv, qe, qi, qm, qh, then hist, uids and one user-id index key
-- per user id. Its arguments follow ARGV index `ao`: mode (s/r/p/t: set,
-- remove, put as given, touch), fenced (1/0), owner, token, release (1/0),
-- version, value, metadata, user ids, data version, readable from (those
-- six empty for a removal; for a touch the version, then the version the
-- record must hold where the value goes, the other four empty), the ack
-- count, then that many read ids, then
-- keep, max age (ms, 0 for none), created, updated and token (of a put),
-- the key's index member, the user id count, the count of user-id index
-- keys (0 on a Redis Cluster, where they lie in other slots: only the
-- key's own `uids` set is kept) and the user ids. Answers the
-- step and the indexes after it.
local function parse_step(ko, ao)
  -- Every field in one constructor: a table grown field by field is
  -- rehashed on the way, and this runs for every step.
  local n = tonumber(ARGV[ao + 12])
  local kq, aq = ko + 3, ao + 12 + n
  local queue
  if n > 0 then
    queue = {KEYS[kq + 1], KEYS[kq + 2], KEYS[kq + 3], KEYS[kq + 4], KEYS[kq + 5], KEYS[kq + 6]}
    kq = kq + 6
  end
  local u, uk = tonumber(ARGV[aq + 7]), tonumber(ARGV[aq + 8])
  local s = {
    rec = KEYS[ko + 1], lock = KEYS[ko + 2], tok = KEYS[ko + 3],
    mode = ARGV[ao + 1], fenced = ARGV[ao + 2] == '1', owner = ARGV[ao + 3],
    token = tonumber(ARGV[ao + 4]), token_s = ARGV[ao + 4], release = ARGV[ao + 5] == '1',
    version = ARGV[ao + 6], value = ARGV[ao + 7], metadata = ARGV[ao + 8],
    user_ids = ARGV[ao + 9], data_version = ARGV[ao + 10], readable_from = ARGV[ao + 11],
    acks = {}, queue = queue,
    keep = tonumber(ARGV[aq + 1]), max_age = tonumber(ARGV[aq + 2]),
    created = ARGV[aq + 3], updated = ARGV[aq + 4], put_token = ARGV[aq + 5],
    member = ARGV[aq + 6],
    hist = KEYS[kq + 1], uids = KEYS[kq + 2], uid_keys = {}, user_id_list = {},
  }
  for i = 1, n do s.acks[ARGV[ao + 12 + i]] = true end
  for i = 1, u do
    if i <= uk then s.uid_keys[i] = KEYS[kq + 2 + i] end
    s.user_id_list[i] = ARGV[aq + 8 + i]
  end
  return s, kq + 2 + uk, aq + 8 + u
end

-- The step's fence against what the store knows (`k`, from `tokens`): nil
-- when it admits the write (or the step is unfenced), else the refusal
-- {0, newest token, holder or ''}.
local function refusal(s, k)
  if s.fenced and not admits(k, s.owner, s.token) then return {0, k.latest, k.owner or ''} end
  return nil
end

-- Applies a step: when fenced out, nothing changes and the answer is the
-- refusal; else the write, the release (announced) and the acks, and the
-- answer {1, created, updated, version, token}. A removal leaves a
-- tombstone (the hash with only `token`), so a lost counter cannot repeat
-- its token. A touch (an unchanged auto-save's rewrite) whose record does
-- not hold the version it names changes nothing and answers {2}: the
-- client writes it in full.
local function save(s)
  local k = tokens(s.rec, s.lock, s.tok, s.keep > 0 and KEPT_FIELDS or STEP_FIELDS,
    s.fenced and s.mode ~= 'p' and s.owner or nil, s.token)
  local refused = refusal(s, k)
  if refused then return refused end
  local h = k.held
  if s.mode == 't' and h[4] ~= s.value then return {2} end
  local token, token_s = k.latest, nil
  if s.fenced then
    token, token_s = s.token, s.token_s
    issue(k, token)
  else
    token_s = fmt(token)
  end
  local hseq = keep_version(s, s.mode == 'r', h)
  local out
  if s.mode == 'p' then
    redis.call('DEL', s.rec)
    redis.call('HSET', s.rec, 'value', s.value, 'metadata', s.metadata, 'user_ids', s.user_ids,
      'created_ms', s.created, 'updated_ms', s.updated, 'version', s.version,
      'token', s.put_token, 'data_version', s.data_version, 'readable_from', s.readable_from,
      'hseq', hseq)
    index_users(s)
    out = {1, tonumber(s.created), tonumber(s.updated), s.version, tonumber(s.put_token)}
  elseif s.mode == 't' then
    -- Value, metadata, user ids and data version stay as they are.
    local created = tonumber(h[3]) or now
    redis.call('HSET', s.rec, 'updated_ms', now_s, 'version', s.version, 'token', token_s,
      'hseq', hseq)
    out = {1, created, now, s.version, token}
    if s.ttl and s.ttl > 0 and renewable(k, s.owner, token) then
      -- The lock's renewal, as `renew.lua` does it (the fence admitted the
      -- write; a released entry is not written again).
      if k.owner then
        redis.call('PEXPIRE', s.lock, s.ttl)
      else
        put_lock(s.owner, token, s.ttl, '', s.lock)
      end
      out[6] = true
    end
  elseif s.mode == 'r' then
    redis.call('DEL', s.rec)
    redis.call('HSET', s.rec, 'token', token_s)
    out = {1, 0, 0, '', token}
  else
    local created = tonumber(h[3])
    local created_s = created and h[3] or now_s
    redis.call('HSET', s.rec, 'value', s.value, 'metadata', s.metadata, 'user_ids', s.user_ids,
      'created_ms', created_s, 'updated_ms', now_s, 'version', s.version,
      'token', token_s, 'data_version', s.data_version, 'readable_from', s.readable_from,
      'hseq', hseq)
    index_users(s)
    out = {1, created or now, now, s.version, token}
  end
  if s.fenced and s.release then
    -- Final even when the entry had lapsed: no late renewal writes it again.
    mark_released(s.token, s.rec)
    if k.owner == s.owner then
      redis.call('DEL', s.lock)
      announce_release(s.lock)
    end
  end
  if s.queue then ack(s.queue, s.acks) end
  return out
end

-- The answers of several steps (`save_each.lua`, `touch_each.lua`) as one
-- text, each step applied and answered on its own, in order: a line per
-- step, `flag a b c n:text` (n the text's length in bytes, the text right
-- after the colon): `1 created updated token n:version` (written),
-- `3 created updated token n:version` (a touch written that renewed its
-- lock), `0 token 0 0 n:holder` (refused by the fence; holder '' when none),
-- `2 0 0 0 0:` (a touch whose record changed) or `-1 0 0 0 n:error` (Redis
-- failed the step, e.g. out of memory; the others go on). The formatting
-- runs under the same pcall as the step, so nothing in one step can fail
-- the others.
local function each_line(flag, a, b, c, text)
  return string.format('%d %d %d %d %d:', flag, a, b, c, #text) .. text
end

local function each_answer(s)
  local r = save(s)
  if r[1] == 0 then return each_line(0, r[2], 0, 0, r[3]) end
  if r[1] == 2 then return each_line(2, 0, 0, 0, '') end
  return each_line(r[6] and 3 or 1, r[2], r[3], r[5], r[4])
end

local function each_answers(steps)
  local out = {}
  for i, s in ipairs(steps) do
    local ok, a = pcall(each_answer, s)
    if ok then
      out[i] = a
    else
      out[i] = each_line(-1, 0, 0, 0, tostring(type(a) == 'table' and (a.err or a) or a))
    end
  end
  return table.concat(out)
end
