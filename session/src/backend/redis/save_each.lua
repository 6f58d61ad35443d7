-- Save several sessions, each on its own (see the save prelude): ARGV 1
-- the step count, then each step's arguments; KEYS each step's keys, in
-- the same order. Each step is checked against its own fence and applied
-- or refused alone, in order; a step that fails (an error of Redis, e.g.
-- out of memory) answers that error and the others go on.
--
-- Answers one text holding every step's answer, in order, each as four
-- integers and a text: `flag a b c n:text` (n the text's length in
-- bytes, the text right after the colon): `1 created updated token
-- n:version` (written), `0 token 0 0 n:holder` (refused by the fence;
-- holder '' when none), `2 0 0 0 0:` (a touch whose record changed) or
-- `-1 0 0 0 n:error`. (One text parses far faster
-- in the client than an array of arrays.)
local steps, ko, ao = {}, 0, 1
for i = 1, tonumber(ARGV[1]) do
  steps[i], ko, ao = parse_step(ko, ao)
end

local function line(flag, a, b, c, text)
  return string.format('%d %d %d %d %d:', flag, a, b, c, #text) .. text
end

-- A step's answer as its line (the formatting runs under the same pcall
-- as the step, so nothing in one step can fail the others).
local function answer(s)
  local r = save(s)
  if r[1] == 0 then return line(0, r[2], 0, 0, r[3]) end
  if r[1] == 2 then return line(2, 0, 0, 0, '') end
  return line(1, r[2], r[3], r[5], r[4])
end

local out = {}
for i, s in ipairs(steps) do
  local ok, a = pcall(answer, s)
  if ok then
    out[i] = a
  else
    out[i] = line(-1, 0, 0, 0, tostring(type(a) == 'table' and (a.err or a) or a))
  end
end
return table.concat(out)
