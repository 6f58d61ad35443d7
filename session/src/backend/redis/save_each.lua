-- Save several sessions, each on its own (see the save prelude): ARGV 1
-- the step count, then each step's arguments; KEYS each step's keys, in
-- the same order. Each step is checked against its own fence and applied
-- or refused alone, in order; a step that fails (an error of Redis, e.g.
-- out of memory) answers that error and the others go on. Answers each
-- step's answer ({0, newest token, holder or ''}, {1, created, updated,
-- version, token} or {-1, error}).
local steps, ko, ao = {}, 0, 1
for i = 1, tonumber(ARGV[1]) do
  steps[i], ko, ao = parse_step(ko, ao)
end
local out = {}
for i, s in ipairs(steps) do
  local ok, answer = pcall(save, s)
  if ok then
    out[i] = answer
  else
    out[i] = {-1, tostring(type(answer) == 'table' and (answer.err or answer) or answer)}
  end
end
return out
