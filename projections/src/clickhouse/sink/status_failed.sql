-- Records a failed step: the error, when the failures began, how many.
INSERT INTO analytics_sink_status AS s (name, last_error, failing_since, failures)
VALUES ($1, left($2, 2000), now(), 1)
ON CONFLICT (name) DO UPDATE
SET last_error = excluded.last_error,
    failing_since = coalesce(s.failing_since, now()),
    failures = s.failures + 1,
    updated_at = now()
