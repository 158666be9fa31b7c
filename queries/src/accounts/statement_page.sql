-- Newest first, keyset on (position, line) (the primary key): an event
-- that moves two transfers has a line for each. The first page starts
-- below the largest bigint.
SELECT position, line, event_type, transfer_id, hold_id, code, phase, amount, counterparty,
       description, recorded_at
FROM account_statement
WHERE account_id = $1 AND currency = $2 AND (position, line) < ($3, $4)
ORDER BY position DESC, line DESC
LIMIT $5
