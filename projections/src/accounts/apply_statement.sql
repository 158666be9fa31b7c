-- Adds a batch of statement lines. A line is keyed by (account, currency,
-- event position, the event's transfer), so a replay over applied events
-- inserts nothing.
INSERT INTO account_statement (account_id, currency, position, line, event_type, transfer_id,
                               hold_id, code, phase, amount, counterparty, description,
                               recorded_at)
SELECT *
FROM unnest($1::text[], $2::text[], $3::int8[], $4::int2[], $5::text[], $6::uuid[],
            $7::uuid[], $8::text[], $9::text[], $10::int8[], $11::text[], $12::text[],
            $13::timestamptz[])
ON CONFLICT (account_id, currency, position, line) DO NOTHING
