-- One rebuild per projection at a time: a session-level lock, held by a
-- connection of the rebuild's own and released when it closes. The
-- two-key form keeps it apart from the append lock (one bigint key).
SELECT pg_try_advisory_lock(7240118, hashtext($1))
