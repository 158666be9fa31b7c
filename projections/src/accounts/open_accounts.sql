-- Opens wallets: their row, with the credit limit and the stream version.
-- The guard on last_position makes a replayed account_opened change nothing.
INSERT INTO account_balances AS b (account_id, currency, credit_limit, version, last_position)
SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int8[])
ON CONFLICT (account_id, currency) DO UPDATE
SET credit_limit = excluded.credit_limit,
    version = excluded.version,
    last_position = excluded.last_position,
    updated_at = now()
WHERE b.last_position < excluded.last_position
