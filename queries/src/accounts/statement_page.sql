-- Newest first, keyset on position (the primary key). The
-- first page starts below the largest bigint.
SELECT position, event_type, transfer_id, hold_id, code, phase, amount, counterparty,
       description, recorded_at
FROM account_statement
WHERE account_id = $1 AND currency = $2 AND position < $3
ORDER BY position DESC
LIMIT $4
