-- The outcomes of a page of markets, each market's in order.
SELECT market_id, outcome, name, odds, staked, payouts_if_wins, liability
FROM market_outcomes
WHERE market_id = ANY($1::text[])
ORDER BY market_id, outcome
