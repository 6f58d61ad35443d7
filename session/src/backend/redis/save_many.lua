-- Save several sessions in one step (see the save prelude). ARGV 1 the
-- step count, then each step's arguments; KEYS each step's keys, in the
-- same order. Every fence is checked first: answers {0, index (from 1),
-- newest token, holder or ''} for the first refused, having changed
-- nothing; else applies the steps in order and answers {1, {each step's
-- answer}}.
local steps, ko, ao = {}, 0, 1
for i = 1, tonumber(ARGV[1]) do
  steps[i], ko, ao = parse_step(ko, ao)
end
for i, s in ipairs(steps) do
  local refused = refusal(s, tokens(s.rec, s.lock, s.tok))
  if refused then return {0, i, refused[2], refused[3]} end
end
local out = {}
for i, s in ipairs(steps) do out[i] = save(s) end
return {1, out}
