-- The legs of a page of bets, each bet's in order.
SELECT bet_id, leg, market_id, outcome, odds, result::text AS result, settlement_id
FROM bet_legs
WHERE bet_id = ANY($1::uuid[])
ORDER BY bet_id, leg
