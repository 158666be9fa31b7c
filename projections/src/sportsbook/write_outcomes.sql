-- Writes the outcomes a batch changed, whole, each only over an older row
-- (see write_markets.sql).
INSERT INTO market_outcomes AS o (market_id, outcome, name, odds, staked, payouts_if_wins,
                                  liability, position)
SELECT *
FROM unnest($1::text[], $2::int2[], $3::text[], $4::int8[], $5::int8[], $6::int8[],
            $7::int8[], $8::int8[])
ON CONFLICT (market_id, outcome) DO UPDATE
SET odds = excluded.odds,
    staked = excluded.staked,
    payouts_if_wins = excluded.payouts_if_wins,
    liability = excluded.liability,
    position = excluded.position,
    updated_at = now()
WHERE o.position < excluded.position
