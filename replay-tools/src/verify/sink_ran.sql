-- Whether the ClickHouse sink has ever run against this database.
SELECT EXISTS (SELECT 1 FROM projection_checkpoints WHERE name = $1)
