-- A page of one wallet's stream up to a position, read in the caller's
-- snapshot (a stream is a prefix of itself in any snapshot).
SELECT global_position, stream_id, stream_version, event_id, command_id, event_type,
       schema_version, payload, metadata, recorded_at, prev_hash, hash
FROM events
WHERE stream_id = $1 AND stream_version > $2 AND global_position <= $3
ORDER BY stream_version
LIMIT $4
