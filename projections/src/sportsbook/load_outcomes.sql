-- The outcomes of the markets a batch touches, in each market's order.
SELECT market_id, outcome, name, odds, staked, payouts_if_wins, liability, position
FROM market_outcomes
WHERE market_id = ANY($1::text[])
ORDER BY market_id, outcome
