-- Sets the sink's checkpoint to $2, creating it if needed: a reset (replay
-- from there) by replay-tools or a test. Going back is safe: the facts
-- written again fold into the ones already there.
INSERT INTO projection_checkpoints (name, position) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = now()
