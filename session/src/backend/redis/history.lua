-- Prelude: version history and the user-id index of a save step (needs
-- now, now_s, fmt). `T:hist` is a sorted set: score the time the version was
-- replaced (ms), member a 16-digit sequence number, a newline and the
-- replaced record's hash as a JSON object (with `replaced_ms` and
-- `removed`), so equal times list in write order. `T:uids` is the set of
-- user ids the key was indexed under; each user id's set (`{p:uid:N}`)
-- holds the JSON array [name, scope, key] of its keys.

-- A script run's settings, the same for every step (`settings(a)` reads
-- them from ARGV index `a`): the history's retention (keep the newest
-- `KEEP` versions, 0 for none, and those replaced in the last `MAX_AGE`
-- ms, 0 for no limit) and `INDEXED`: whether each user id's index key
-- follows a step's keys (not on a Redis Cluster, where those keys lie in
-- other slots: only the key's own `uids` set is kept there).
local KEEP, MAX_AGE, INDEXED, TRIM = 0, 0, false, '-1'
local function settings(a)
  KEEP, MAX_AGE, INDEXED = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), ARGV[a + 3] == '1'
  -- The rank below which the trim removes (as text, formatted once).
  TRIM = fmt(-(KEEP + 1))
end

-- The fields of `T:rec` a save step reads with its tokens (`tokens`'s
-- `more`, in `k.held` from index 3): always those of `STEP_FIELDS`, and
-- with a retention the rest of the record too (`KEPT_FIELDS`), kept as the
-- replaced version. `hseq` is `seq:version`: the sequence number of the
-- newest version when the record holding `version` was written, so the
-- next save need not read the newest version to number its own (a record
-- written otherwise, e.g. by an older build, holds another version there
-- and the number is read from the history).
local STEP_FIELDS = {'created_ms', 'version', 'hseq'}
local KEPT_FIELDS = {'created_ms', 'version', 'hseq', 'value', 'metadata', 'user_ids',
  'updated_ms', 'data_version', 'readable_from'}

-- Keeps the record (if it holds one; `h` its fields as read, see above) as
-- the newest version in `hist`, replaced now (by a removal when
-- `removed`), then trims to the retention: versions replaced before `now -
-- MAX_AGE` (when set), then all but the newest `KEEP`. Answers the `hseq`
-- of the record written next, which holds `version` ('' when no version
-- was kept).
local function keep_version(hist, version, removed, h)
  local hseq = ''
  if KEEP > 0 and h[6] then
    local t = {
      value = h[6], metadata = h[7] or nil, user_ids = h[8] or nil,
      created_ms = h[3] or nil, updated_ms = h[9] or nil, version = h[4] or nil,
      token = h[1] or nil, data_version = h[10] or nil, readable_from = h[11] or nil,
      replaced_ms = now_s, removed = removed and '1' or '0',
    }
    local seq_s
    local n, v = string.match(h[5] or '', '^(%d+):(.*)$')
    if n and v == h[4] then
      seq_s = fmt(tonumber(n) + 1)
    else
      local seq = 1
      local last = redis.call('ZREVRANGE', hist, 0, 0)
      if last[1] then seq = (tonumber(string.sub(last[1], 1, 16)) or 0) + 1 end
      seq_s = fmt(seq)
    end
    local member = string.rep('0', 16 - #seq_s) .. seq_s .. '\n' .. cjson.encode(t)
    redis.call('ZADD', hist, now_s, member)
    hseq = seq_s .. ':' .. version
  end
  -- With no history kept, the trim runs only when versions may be left
  -- from a retention that kept some: not when the replaced record says
  -- (`hseq` empty) that the write before kept none either.
  if KEEP == 0 and h[5] == '' then return hseq end
  if MAX_AGE > 0 then
    redis.call('ZREMRANGEBYSCORE', hist, '-inf', '(' .. fmt(now - MAX_AGE))
  end
  -- All but the newest `KEEP` (every one when it is 0), in one call.
  redis.call('ZREMRANGEBYRANK', hist, '0', TRIM)
  return hseq
end

-- Adds the key to the index of each of its user ids: `u` of them at ARGV
-- index `b` + 2 on, the key's index member at `b` + 1; `uids` at KEYS
-- index `kh` + 1, each user id's index key after it (when `INDEXED`).
local function index_users(kh, b, u)
  local member, uids = ARGV[b + 1], KEYS[kh + 1]
  for i = 1, u do
    if INDEXED then redis.call('SADD', KEYS[kh + 1 + i], member) end
    redis.call('SADD', uids, ARGV[b + 1 + i])
  end
end
