-- Every statement line, in the replay's order: by position, then the
-- event's transfer (line), then account (bytes). No index gives this
-- order, so Postgres sorts the table once.
DECLARE verify_statement NO SCROLL CURSOR FOR
SELECT account_id, position, line, currency, event_type, transfer_id, hold_id, code, phase, amount,
       counterparty, description, recorded_at
FROM account_statement
ORDER BY position, line, account_id COLLATE "C"
