SELECT command_id, stream_id, request_hash, outcome, last_position
FROM commands
WHERE command_id = ANY($1)
