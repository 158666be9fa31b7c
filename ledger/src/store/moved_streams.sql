-- Streams that moved past the version their commands were decided against.
SELECT s.stream_id
FROM unnest($1::text[], $2::int8[]) AS s(stream_id, version)
WHERE EXISTS (SELECT 1 FROM events e
              WHERE e.stream_id = s.stream_id AND e.stream_version > s.version)
