-- Remove the values handed out under a read id. Prelude ack. KEYS q, qv,
-- qe, qs, qi, qm, qh; ARGV read id. Answers how many it removed.
return ack({KEYS[1], KEYS[2], KEYS[3], KEYS[5], KEYS[6], KEYS[7]}, {[ARGV[1]] = true})
