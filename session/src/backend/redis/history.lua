-- Prelude: version history and the user-id index of a save step (needs
-- now, fmt). `T:hist` is a sorted set: score the time the version was
-- replaced (ms), member a 16-digit sequence number, a newline and the
-- replaced record's hash as a JSON object (with `replaced_ms` and
-- `removed`), so equal times list in write order. `T:uids` is the set of
-- user ids the key was indexed under; each user id's set (`{p:uid:N}`)
-- holds the JSON array [name, scope, key] of its keys.

-- Keeps the record `s.rec` (if it holds one) as the newest version,
-- replaced now (by a removal when `removed`), then trims to the
-- retention: versions replaced before `now - s.max_age` (when set), then
-- all but the newest `s.keep`. Answers the record's `created_ms` when it
-- read the record (nil when it did not, or there is none).
local function keep_version(s, removed)
  local created
  if s.keep > 0 then
    local fields = {'value', 'metadata', 'user_ids', 'created_ms', 'updated_ms', 'version',
      'token', 'data_version', 'readable_from'}
    local got = redis.call('HMGET', s.rec, unpack(fields))
    if got[1] then
      local t = {}
      for i, f in ipairs(fields) do
        if got[i] then t[f] = got[i] end
      end
      created = got[4]
      t.replaced_ms = fmt(now)
      t.removed = removed and '1' or '0'
      local seq = 1
      local last = redis.call('ZREVRANGE', s.hist, 0, 0)
      if last[1] then seq = (tonumber(string.sub(last[1], 1, 16)) or 0) + 1 end
      redis.call('ZADD', s.hist, now, string.format('%016d', seq) .. '\n' .. cjson.encode(t))
    end
  end
  if s.max_age > 0 then
    redis.call('ZREMRANGEBYSCORE', s.hist, '-inf', '(' .. fmt(now - s.max_age))
  end
  -- All but the newest `keep` (every one when `keep` is 0), in one call.
  redis.call('ZREMRANGEBYRANK', s.hist, 0, -(s.keep + 1))
  return created
end

-- Adds the key (`s.member`) to the index of each of its user ids.
local function index_users(s)
  for i, user in ipairs(s.user_id_list) do
    if s.uid_keys[i] then redis.call('SADD', s.uid_keys[i], s.member) end
    redis.call('SADD', s.uids, user)
  end
end
