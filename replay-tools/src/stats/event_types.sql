-- Everything stats needs from the events, in one scan: per type, its count,
-- how many streams it starts (every stream starts at version 1, so these sum
-- to the number of streams) and its positions' range.
SELECT event_type,
       count(*) AS events,
       count(*) FILTER (WHERE stream_version = 1) AS streams_started,
       min(global_position) AS min_position,
       max(global_position) AS max_position
FROM events
GROUP BY event_type
ORDER BY event_type
