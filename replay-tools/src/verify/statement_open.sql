-- Every statement line, in the replay's order: by position, then account
-- (bytes). No index gives this order, so Postgres sorts the table once.
DECLARE verify_statement NO SCROLL CURSOR FOR
SELECT account_id, position, currency, event_type, transfer_id, hold_id, code, phase, amount,
       counterparty, description, recorded_at
FROM account_statement
ORDER BY position, account_id COLLATE "C"
