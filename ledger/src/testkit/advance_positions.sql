-- Rows inserted with their own positions do not move the identity sequence;
-- without this, the next append would draw a position already taken.
SELECT setval(pg_get_serial_sequence('events', 'global_position'),
              (SELECT coalesce(max(global_position), 1) FROM events))
