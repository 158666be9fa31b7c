-- The end of the log in this snapshot (0 when it is empty); the primary key
-- answers it without a scan.
SELECT coalesce(max(global_position), 0) FROM events
