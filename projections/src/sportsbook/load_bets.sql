-- The bets a batch touches, as they stand (missing ones are new).
SELECT bet_id, account_id, currency, stake, odds, payout_if_wins, status, returned,
       settlement_id, placed_at, settled_at, placed_position, position
FROM bets
WHERE bet_id = ANY($1::uuid[])
