-- Table, indexes and TOAST.
SELECT pg_total_relation_size('events') AS events_bytes,
       pg_total_relation_size('commands') AS commands_bytes
