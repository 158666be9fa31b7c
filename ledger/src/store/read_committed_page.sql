-- Everything visible to the caller's snapshot, in position order. Not
-- gap-safe across snapshots: for audits that read one snapshot whole.
SELECT global_position, stream_id, stream_version, event_id, command_id, event_type,
       schema_version, payload, metadata, recorded_at, prev_hash, hash
FROM events
WHERE global_position > $1
ORDER BY global_position
LIMIT $2
