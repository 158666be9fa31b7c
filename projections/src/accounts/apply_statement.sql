-- Adds a batch of statement lines. A line is keyed by (account, currency,
-- event position), so a replay over applied events inserts nothing.
INSERT INTO account_statement (account_id, currency, position, event_type, transfer_id,
                               hold_id, code, phase, amount, counterparty, description,
                               recorded_at)
SELECT *
FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::uuid[], $6::uuid[],
            $7::text[], $8::text[], $9::int8[], $10::text[], $11::text[],
            $12::timestamptz[])
ON CONFLICT (account_id, currency, position) DO NOTHING
