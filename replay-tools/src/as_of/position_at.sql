-- The moment --at names, as a position: the end of the longest prefix of the
-- log recorded at or before $1. Writers stamp their own clocks, so times are
-- not quite in position order across writers; a prefix keeps the state one
-- the log actually passed through (no hold posted before it was placed).
SELECT coalesce(
    (SELECT min(global_position) - 1 FROM events WHERE recorded_at > $1),
    (SELECT max(global_position) FROM events),
    0)
