-- Write or remove the record, fenced, and acknowledge queue values in the
-- same step: one save step (see the save prelude): ARGV 1 to 3 the
-- settings, then the step; its keys from KEYS 1. Answers {0, newest token,
-- holder or ''} when fenced (nothing changed, nothing acknowledged), else
-- {1, created, updated, version, token}. A release is announced on
-- `T:unlock` and `T:push`.
settings(0)
local step = parse_step(0, 3)
return answer_list(save(step))
