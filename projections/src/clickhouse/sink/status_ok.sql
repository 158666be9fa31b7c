-- A step succeeded: the sink is healthy again.
UPDATE analytics_sink_status
SET last_error = NULL, failing_since = NULL, failures = 0, updated_at = now()
WHERE name = $1 AND failures > 0
