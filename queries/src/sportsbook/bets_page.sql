-- One account's bets in one currency, newest first, keyset on the position
-- each was placed at (index bets_by_account). The first page starts below
-- the largest bigint.
SELECT bet_id, account_id, currency, stake, odds, payout_if_wins, status, returned,
       settlement_id, placed_at, settled_at, placed_position, position
FROM bets
WHERE account_id = $1 AND currency = $2 AND placed_position < $3
ORDER BY placed_position DESC
LIMIT $4
