-- Locks the checkpoint for the rest of the step's transaction: a second
-- runner of the same projection waits here, then reads the position the
-- first one committed, so the two take turns instead of applying a batch
-- twice.
SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE
