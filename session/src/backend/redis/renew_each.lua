-- Renew several locks, each on its own as `renew.lua` does: ARGV 1 the
-- count, then each step's owner, token and ttl ms; KEYS each step's rec,
-- lock and tok. Answers one text in `save_each.lua`'s format, a line per
-- step in order: `1 0 0 0 0:` (renewed), `0 token 0 0 n:holder` (a lock
-- was granted after ours, or ours was released: the newest token and the
-- holder, '' when none)
-- or `-1 0 0 0 n:error` (Redis failed the step; the others go on).
local function line(flag, a, text)
  return string.format('%d %d 0 0 %d:', flag, a, #text) .. text
end

local function renew(rec, lock, tok, owner, token, ttl)
  local k = tokens(rec, lock, tok, nil, owner, token)
  if not renewable(k, owner, token) then return line(0, k.latest, k.owner or '') end
  issue(k, token)
  if k.owner then
    redis.call('PEXPIRE', lock, ttl)
  else
    put_lock(owner, token, ttl, '', lock)
  end
  return line(1, 0, '')
end

local out = {}
for i = 1, tonumber(ARGV[1]) do
  local ko, ao = (i - 1) * 3, 1 + (i - 1) * 3
  local ok, a = pcall(renew, KEYS[ko + 1], KEYS[ko + 2], KEYS[ko + 3],
    ARGV[ao + 1], tonumber(ARGV[ao + 2]), ARGV[ao + 3])
  if ok then
    out[i] = a
  else
    out[i] = line(-1, 0, tostring(type(a) == 'table' and (a.err or a) or a))
  end
end
return table.concat(out)
