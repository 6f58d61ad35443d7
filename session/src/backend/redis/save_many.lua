-- Save several sessions in one step (see the save prelude). ARGV 1 the
-- step count, 2 to 4 the settings, then each step's arguments; KEYS each
-- step's keys, in the same order. Every fence is checked first: answers
-- {0, index (from 1), newest token, holder or ''} for the first refused,
-- having changed nothing; else applies the steps in order and answers {1,
-- {each step's answer}}.
settings(1)
local steps, ko, ao = {}, 0, 4
for i = 1, tonumber(ARGV[1]) do
  steps[i], ko, ao = parse_step(ko, ao)
end
for i, st in ipairs(steps) do
  local latest, holder = step_refusal(st)
  if latest then return {0, i, latest, holder} end
end
local out = {}
for i, st in ipairs(steps) do out[i] = answer_list(save(st)) end
return {1, out}
