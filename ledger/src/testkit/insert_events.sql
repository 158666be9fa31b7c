-- Puts rows into the log exactly as another database stored them, positions
-- included, bypassing the store's API: tests load fixtures of older schema
-- versions this way. Only the owner of the table (a test's superuser) may.
INSERT INTO events (global_position, stream_id, stream_version, event_id, command_id,
                    event_type, schema_version, payload, metadata, recorded_at,
                    prev_hash, hash)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[],
                     $6::text[], $7::integer[], $8::jsonb[], $9::jsonb[],
                     $10::timestamptz[], $11::bytea[], $12::bytea[])
