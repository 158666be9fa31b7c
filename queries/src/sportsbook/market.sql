-- One market by id (its primary key).
SELECT market_id, name, starts_at, currency, status, liability_limit, stake_min, stake_max,
       margin_bp, bets, stakes_total, settlement_id, replaces, result::text AS result,
       bets_settled, version, position
FROM markets
WHERE market_id = $1
