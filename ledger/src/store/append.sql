-- One group commit: see events_append in 0003_append_function.sql.
SELECT stream_id, stream_version, global_position
FROM events_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                   $12, $13, $14, $15, $16, $17, $18)
