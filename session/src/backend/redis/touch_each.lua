-- Touch several records, each on its own: the rewrites of unchanged
-- auto-saves (see the save prelude's touch: a record that still holds the
-- version the session's last write left gets a new version, times and
-- token, the replaced record kept as a version; any other record is left
-- alone and answered `2`, and the client saves it in full). ARGV 1 the
-- step count, 2 and 3 the history's keep and max age (ms, 0 for none),
-- then each step's owner, token, new version, the version it replaces and
-- the lock's ttl in ms (0: do not renew; else a touch that is written
-- renews the lock as `renew.lua` would and answers `3`); KEYS each step's
-- rec, lock, tok and hist. Answers one text as `save_each.lua` does.
local keep, max_age = tonumber(ARGV[2]), tonumber(ARGV[3])
local steps = {}
for i = 1, tonumber(ARGV[1]) do
  local ko, ao = (i - 1) * 4, 3 + (i - 1) * 5
  steps[i] = {
    rec = KEYS[ko + 1], lock = KEYS[ko + 2], tok = KEYS[ko + 3], hist = KEYS[ko + 4],
    mode = 't', fenced = true, owner = ARGV[ao + 1], token = tonumber(ARGV[ao + 2]),
    token_s = ARGV[ao + 2],
    release = false, version = ARGV[ao + 3], value = ARGV[ao + 4],
    ttl = tonumber(ARGV[ao + 5]),
    keep = keep, max_age = max_age,
  }
end
return each_answers(steps)
