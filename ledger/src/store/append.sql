-- One group commit: see events_append in 0005_append_groups.sql. Payloads,
-- metadata and outcomes come as JSON text: the writer has them as text
-- already (the canonical bytes it hashed), and Postgres parses them once.
SELECT stream_id, stream_version, global_position
FROM events_append($1, $2, $3, $4, $5, $6, $7::jsonb[], $8::jsonb[], $9, $10, $11,
                   $12, $13, $14, $15::jsonb[], $16, $17)
