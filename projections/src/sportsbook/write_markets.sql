-- Writes the markets a batch changed, whole. The projection computed each
-- row from the one it loaded in this transaction, so the guard on position
-- never refuses one here; it keeps a replayed event from changing a row
-- all the same, whoever writes it.
INSERT INTO markets AS m (market_id, name, starts_at, currency, status, liability_limit,
                          stake_min, stake_max, margin_bp, bets, stakes_total, settlement_id,
                          replaces, result, bets_settled, version, position)
SELECT market_id, name, starts_at, currency, status, liability_limit, stake_min, stake_max,
       margin_bp, bets, stakes_total, settlement_id, replaces, result::jsonb, bets_settled,
       version, position
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::int8[],
            $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::uuid[],
            $13::uuid[], $14::text[], $15::int8[], $16::int8[], $17::int8[])
     AS r(market_id, name, starts_at, currency, status, liability_limit, stake_min, stake_max,
          margin_bp, bets, stakes_total, settlement_id, replaces, result, bets_settled,
          version, position)
ON CONFLICT (market_id) DO UPDATE
SET status = excluded.status,
    bets = excluded.bets,
    stakes_total = excluded.stakes_total,
    settlement_id = excluded.settlement_id,
    replaces = excluded.replaces,
    result = excluded.result,
    bets_settled = excluded.bets_settled,
    version = excluded.version,
    position = excluded.position,
    updated_at = now()
WHERE m.position < excluded.position
