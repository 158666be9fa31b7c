-- Pools still open past their close time: created, with a close time
-- before $1, and neither closed, cancelled nor settled (0008's index).
SELECT stream_id
FROM events
WHERE event_type IN ('pool_created', 'pool_closed', 'pool_cancelled', 'pool_settlement_started')
GROUP BY stream_id
HAVING count(*) FILTER (WHERE event_type <> 'pool_created') = 0
   AND min((payload->>'closes_at')::timestamptz) FILTER (WHERE event_type = 'pool_created') <= $1
ORDER BY stream_id
LIMIT $2
