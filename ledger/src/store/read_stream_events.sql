-- One stream's events after a version, as an aggregate folds them
-- (StreamEvent): no metadata, ids or times it does not use.
SELECT stream_id, stream_version, event_type, schema_version, payload, hash
FROM events
WHERE stream_id = $1 AND stream_version > $2
ORDER BY stream_version
LIMIT $3
