-- Moves the sink's checkpoint from $2 to $3, only if it is still at $2: a
-- second sink, or an operator's reset, that moved it meanwhile wins, and
-- this batch (already in ClickHouse, where repeats fold) is simply not
-- recorded. Notified like every checkpoint move.
WITH moved AS (
    UPDATE projection_checkpoints
    SET position = $3, updated_at = now()
    WHERE name = $1 AND position = $2
    RETURNING position
)
SELECT pg_notify('betledger_checkpoints', position::text) FROM moved
