-- Writes the legs a batch changed, whole, each only over an older row.
INSERT INTO bet_legs AS l (bet_id, leg, market_id, outcome, odds, result, settlement_id,
                           position)
SELECT bet_id, leg, market_id, outcome, odds, result::jsonb, settlement_id, position
FROM unnest($1::uuid[], $2::int2[], $3::text[], $4::int2[], $5::int8[], $6::text[],
            $7::uuid[], $8::int8[])
     AS r(bet_id, leg, market_id, outcome, odds, result, settlement_id, position)
ON CONFLICT (bet_id, leg) DO UPDATE
SET result = excluded.result,
    settlement_id = excluded.settlement_id,
    position = excluded.position,
    updated_at = now()
WHERE l.position < excluded.position
