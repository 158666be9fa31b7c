-- The legs of the bets a batch touches, in each bet's order. The result
-- comes as text, which the projection reads back as the domain's LegResult.
SELECT bet_id, leg, market_id, outcome, odds, result::text AS result, settlement_id, position
FROM bet_legs
WHERE bet_id = ANY($1::uuid[])
ORDER BY bet_id, leg
