INSERT INTO commands (command_id, stream_id, request_hash, outcome, last_position)
SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::jsonb[], $5::int8[])
ON CONFLICT DO NOTHING
RETURNING command_id
