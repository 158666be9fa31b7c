-- The events of many streams after a version each, stream by stream, as
-- aggregates fold them (StreamEvent): one round trip where reading them one
-- at a time would take one per stream.
SELECT e.stream_id, e.stream_version, e.event_type, e.schema_version, e.payload, e.hash
FROM unnest($1::text[], $2::int8[]) AS s(stream_id, after_version)
JOIN events e ON e.stream_id = s.stream_id AND e.stream_version > s.after_version
ORDER BY e.stream_id, e.stream_version
LIMIT $3
