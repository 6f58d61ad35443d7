-- Prelude: version history and the user-id index of a save step (needs
-- now, now_s, fmt). `T:hist` is a sorted set: score the time the version was
-- replaced (ms), member a 16-digit sequence number, a newline and the
-- replaced record's hash as a JSON object (with `replaced_ms` and
-- `removed`), so equal times list in write order. `T:uids` is the set of
-- user ids the key was indexed under; each user id's set (`{p:uid:N}`)
-- holds the JSON array [name, scope, key] of its keys.

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

-- Keeps the record `s.rec` (if it holds one; `h` its fields as read, see
-- above) as the newest version, replaced now (by a removal when
-- `removed`), then trims to the retention: versions replaced before
-- `now - s.max_age` (when set), then all but the newest `s.keep`. Answers
-- the `hseq` of the record written next ('' when no version was kept).
local function keep_version(s, removed, h)
  local hseq = ''
  if s.keep > 0 and h[6] then
    local t = {
      value = h[6], metadata = h[7] or nil, user_ids = h[8] or nil,
      created_ms = h[3] or nil, updated_ms = h[9] or nil, version = h[4] or nil,
      token = h[1] or nil, data_version = h[10] or nil, readable_from = h[11] or nil,
      replaced_ms = now_s, removed = removed and '1' or '0',
    }
    local seq
    local n, v = string.match(h[5] or '', '^(%d+):(.*)$')
    if n and v == h[4] then
      seq = tonumber(n) + 1
    else
      seq = 1
      local last = redis.call('ZREVRANGE', s.hist, 0, 0)
      if last[1] then seq = (tonumber(string.sub(last[1], 1, 16)) or 0) + 1 end
    end
    redis.call('ZADD', s.hist, now_s, string.format('%016d', seq) .. '\n' .. cjson.encode(t))
    hseq = fmt(seq) .. ':' .. s.version
  end
  if s.max_age > 0 then
    redis.call('ZREMRANGEBYSCORE', s.hist, '-inf', '(' .. fmt(now - s.max_age))
  end
  -- All but the newest `keep` (every one when `keep` is 0), in one call.
  redis.call('ZREMRANGEBYRANK', s.hist, 0, -(s.keep + 1))
  return hseq
end

-- Adds the key (`s.member`) to the index of each of its user ids.
local function index_users(s)
  for i, user in ipairs(s.user_id_list) do
    if s.uid_keys[i] then redis.call('SADD', s.uid_keys[i], s.member) end
    redis.call('SADD', s.uids, user)
  end
end
