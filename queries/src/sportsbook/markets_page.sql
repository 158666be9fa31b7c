-- Keyset pagination of every market in start order, then by id (index
-- markets_by_start). The first page has no cursor ($1 and $2 NULL) and
-- starts after ('-infinity', ''), before every market.
SELECT market_id, name, starts_at, currency, status, liability_limit, stake_min, stake_max,
       margin_bp, bets, stakes_total, settlement_id, replaces, result::text AS result,
       bets_settled, version, position
FROM markets
WHERE (starts_at, market_id) > (coalesce($1::timestamptz, '-infinity'), coalesce($2::text, ''))
ORDER BY starts_at, market_id
LIMIT $3
