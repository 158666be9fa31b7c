INSERT INTO events (stream_id, stream_version, event_id, command_id, event_type,
                    schema_version, payload, metadata, recorded_at, prev_hash, hash)
SELECT * FROM unnest($1::text[], $2::int8[], $3::uuid[], $4::text[], $5::text[],
                     $6::int4[], $7::jsonb[], $8::jsonb[], $9::timestamptz[],
                     $10::bytea[], $11::bytea[])
ON CONFLICT DO NOTHING
RETURNING stream_id, stream_version, global_position
