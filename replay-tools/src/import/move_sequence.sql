-- Explicit positions do not advance the identity's sequence: move it past
-- the last imported position, so the next append draws the one after it.
SELECT setval(pg_get_serial_sequence('events', 'global_position'), $1)
