-- Shows scheduled and not finished cancelling (0009's index).
SELECT stream_id
FROM events
WHERE event_type IN ('show_scheduled', 'show_cancellation_finished')
GROUP BY stream_id
HAVING count(*) FILTER (WHERE event_type = 'show_cancellation_finished') = 0
ORDER BY stream_id
LIMIT $1
