SELECT global_position, stream_id, stream_version, event_id, command_id, event_type,
       schema_version, payload, metadata, recorded_at, prev_hash, hash
FROM events
WHERE stream_id = $1 AND event_type = ANY($2)
ORDER BY stream_version DESC
LIMIT $3
