-- markets_page.sql for the markets of one status ($1, index
-- markets_by_status).
SELECT market_id, name, starts_at, currency, status, liability_limit, stake_min, stake_max,
       margin_bp, bets, stakes_total, settlement_id, replaces, result::text AS result,
       bets_settled, version, position
FROM markets
WHERE status = $1
  AND (starts_at, market_id) > (coalesce($2::timestamptz, '-infinity'), coalesce($3::text, ''))
ORDER BY starts_at, market_id
LIMIT $4
