-- Save several sessions, each on its own (see the save prelude): ARGV 1
-- the step count, 2 to 4 the settings, then each step's arguments; KEYS
-- each step's keys, in the same order. Each step is checked against its
-- own fence and applied or refused alone, in order; a step that fails (an
-- error of Redis, e.g. out of memory) answers that error and the others
-- go on.
--
-- Answers one text holding every step's answer, in order, each as four
-- integers and a text: `flag a b c n:text` (n the text's length in
-- bytes, the text right after the colon): `1 created updated token
-- n:version` (written), `0 token 0 0 n:holder` (refused by the fence;
-- holder '' when none) or `-1 0 0 0 n:error`. (One text parses far
-- faster in the client than an array of arrays.)
settings(1)
local steps, ko, ao = {}, 0, 4
for i = 1, tonumber(ARGV[1]) do
  steps[i], ko, ao = parse_step(ko, ao)
end

return each_answers(save, steps)
