-- Gap-safe: only events of transactions older than every transaction still
-- running. Appenders take their xid and draw positions under one lock, so no
-- running transaction can later commit a position below what we return.
-- The horizon is a subquery so that it is computed once (an InitPlan), not
-- once per row.
SELECT global_position, stream_id, stream_version, event_id, command_id, event_type,
       schema_version, payload, metadata, recorded_at, prev_hash, hash
FROM events
WHERE global_position > $1
  AND tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
ORDER BY global_position
LIMIT $2
