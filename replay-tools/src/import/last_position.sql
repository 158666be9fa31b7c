-- The last event's position, or NULL for an empty store (primary key, no scan).
SELECT max(global_position) FROM events
