-- The sink's checkpoint, created at 0 on its first step. No lock: the sink
-- moves it later with a compare-and-set (checkpoint_advance.sql).
WITH created AS (
    INSERT INTO projection_checkpoints (name) VALUES ($1)
    ON CONFLICT (name) DO NOTHING
    RETURNING position
)
SELECT position FROM created
UNION ALL
SELECT position FROM projection_checkpoints WHERE name = $1
