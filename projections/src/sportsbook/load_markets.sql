-- The markets a batch touches, as they stand (missing ones are new). The
-- result comes as text: the projection keeps it as the JSON it was given.
SELECT market_id, name, starts_at, currency, status, liability_limit, stake_min, stake_max,
       margin_bp, bets, stakes_total, settlement_id, replaces, result::text AS result,
       bets_settled, version, position
FROM markets
WHERE market_id = ANY($1::text[])
