-- read_all.sql's rows, only the columns projections need (see LogEvent).
SELECT global_position, stream_id, stream_version, event_type, schema_version,
       recorded_at, payload
FROM events
WHERE global_position > $1
  AND tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
ORDER BY global_position
LIMIT $2
