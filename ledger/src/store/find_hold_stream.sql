SELECT stream_id FROM events
WHERE event_type = 'hold_placed' AND payload->>'hold_id' = $1
LIMIT 1
