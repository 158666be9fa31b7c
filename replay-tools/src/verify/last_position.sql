-- The end of the log in this snapshot (0 when it is empty).
SELECT coalesce(max(global_position), 0) FROM events
