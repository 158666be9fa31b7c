-- The last position committed to the log: how far the rebuild has to go.
SELECT coalesce(max(global_position), 0) FROM events
