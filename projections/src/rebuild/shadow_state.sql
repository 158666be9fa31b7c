-- What an earlier run of this rebuild left: its schema ($1) and its
-- checkpoint ($2). They are created and dropped in one transaction, so
-- they exist together or not at all unless someone removed one by hand.
SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS schema_exists,
       (SELECT position FROM projection_checkpoints WHERE name = $2) AS position
