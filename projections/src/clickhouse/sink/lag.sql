-- Where the sink is, how far the log's head is beyond it, and why it is
-- stuck if it is. The head is the largest position (an index lookup); a
-- few of the newest may not be readable yet (ADR 0002), so `behind` can
-- read 1 or 2 for a moment while the sink is in fact caught up.
SELECT
    coalesce((SELECT position FROM projection_checkpoints WHERE name = $1), 0) AS position,
    coalesce((SELECT max(global_position) FROM events), 0) AS head,
    s.last_error,
    s.failing_since,
    coalesce(s.failures, 0) AS failures
FROM (SELECT 1) AS one
LEFT JOIN analytics_sink_status s ON s.name = $1
