-- bets_page.sql for the bets of one status ($3, index
-- bets_by_account_status).
SELECT bet_id, account_id, currency, stake, odds, payout_if_wins, status, returned,
       settlement_id, placed_at, settled_at, placed_position, position
FROM bets
WHERE account_id = $1 AND currency = $2 AND status = $3 AND placed_position < $4
ORDER BY placed_position DESC
LIMIT $5
