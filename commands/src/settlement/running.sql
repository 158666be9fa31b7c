-- Markets with a settlement started and not finished (0007's index).
SELECT stream_id
FROM events
WHERE event_type IN ('settlement_started', 'market_settled')
GROUP BY stream_id
HAVING count(*) FILTER (WHERE event_type = 'settlement_started')
     > count(*) FILTER (WHERE event_type = 'market_settled')
ORDER BY stream_id
LIMIT $1
