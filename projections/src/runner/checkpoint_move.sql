-- Moves the checkpoint forward (never back) and wakes whoever waits for it.
-- pg_notify inside the transaction is delivered at commit, and only then, so
-- a waiter never hears of a position that was rolled back.
WITH moved AS (
    UPDATE projection_checkpoints
    SET position = $2, updated_at = now()
    WHERE name = $1 AND position < $2
    RETURNING position
)
SELECT pg_notify('betledger_checkpoints', position::text) FROM moved
