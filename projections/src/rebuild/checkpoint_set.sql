-- Moves the live checkpoint to where the swapped-in tables are. The swap
-- holds its row lock and has caught the copies up to it, so this never
-- moves it back; like every move, it wakes whoever waits for it.
WITH moved AS (
    UPDATE projection_checkpoints
    SET position = $2, updated_at = now()
    WHERE name = $1 AND position <= $2
    RETURNING position
)
SELECT pg_notify('betledger_checkpoints', position::text) FROM moved
