SELECT pool_id, outcome, name, staked, entries
FROM pool_outcomes
WHERE pool_id = ANY($1)
ORDER BY pool_id, outcome
