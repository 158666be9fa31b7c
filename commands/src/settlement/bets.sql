-- The next bets of a market after a stream version, with only what the
-- settlement needs: reading whole events (hashes, metadata, every payload
-- as a JSON tree) cost more than settling them.
SELECT stream_version,
       (payload->>'bet_id')::uuid AS bet_id,
       payload->>'account' AS account,
       (payload->>'outcome')::int4 AS outcome
FROM events
WHERE stream_id = $1
  AND stream_version > $2
  AND event_type = 'bet_accepted'
ORDER BY stream_version
LIMIT $3
