-- Shows scheduled and not finished cancelling (0009's index), a page at a
-- time: those after $2 in stream order. Every such show is looked at in
-- turn, however many there are.
SELECT stream_id
FROM events
WHERE event_type IN ('show_scheduled', 'show_cancellation_finished')
  AND stream_id > $2
GROUP BY stream_id
HAVING count(*) FILTER (WHERE event_type = 'show_cancellation_finished') = 0
ORDER BY stream_id
LIMIT $1
