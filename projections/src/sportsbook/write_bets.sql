-- Writes the bets a batch changed, whole, each only over an older row (see
-- write_markets.sql): a replayed event changes nothing.
INSERT INTO bets AS b (bet_id, account_id, currency, stake, odds, payout_if_wins, legs, status,
                       returned, settlement_id, placed_at, settled_at, placed_position,
                       position)
SELECT *
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[],
            $7::int2[], $8::text[], $9::int8[], $10::uuid[], $11::timestamptz[],
            $12::timestamptz[], $13::int8[], $14::int8[])
ON CONFLICT (bet_id) DO UPDATE
SET status = excluded.status,
    returned = excluded.returned,
    settlement_id = excluded.settlement_id,
    settled_at = excluded.settled_at,
    position = excluded.position,
    updated_at = now()
WHERE b.position < excluded.position
