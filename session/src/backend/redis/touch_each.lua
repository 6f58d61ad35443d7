-- Touch several records, each on its own: the rewrites of unchanged
-- auto-saves (see the save prelude's `touch`: a record that still holds
-- the version the session's last write left gets a new version, times and
-- token, the replaced record kept as a version; any other record is left
-- alone and answered `2`, and the client saves it in full). ARGV 1 the
-- step count, 2 to 4 the settings (no user-id index is written), then
-- each step's owner, token, new version, the version it replaces and the
-- lock's ttl in ms (0: do not renew; else a touch that is written renews
-- the lock as `renew.lua` would and answers `3`); KEYS each step's rec,
-- lock, tok and hist. Answers one text as `save_each.lua` does.
settings(1)
local steps = {}
for i = 1, tonumber(ARGV[1]) do
  steps[i] = {(i - 1) * 4, 4 + (i - 1) * 5}
end
return each_answers(touch, steps)
