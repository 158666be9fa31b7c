-- Pools settled or cancelled whose payouts have not finished (0008's index).
SELECT stream_id
FROM events
WHERE event_type IN ('pool_settlement_started', 'pool_cancelled', 'pool_payouts_finished')
GROUP BY stream_id
HAVING count(*) FILTER (WHERE event_type <> 'pool_payouts_finished')
     > count(*) FILTER (WHERE event_type = 'pool_payouts_finished')
ORDER BY stream_id
LIMIT $1
