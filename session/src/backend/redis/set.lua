-- Write or remove the record, fenced, and acknowledge queue values in the
-- same step: one save step (see the save prelude) from KEYS 1 and ARGV 1.
-- Answers {0, newest token, holder or ''} when fenced (nothing changed,
-- nothing acknowledged), else {1, created, updated, version, token}. A
-- release is announced on `T:unlock` and `T:push`.
local step = parse_step(0, 0)
return save(step)
