-- For the rest of the transaction, a lock not granted within $1 fails the
-- statement (SQLSTATE 55P03) instead of queueing everyone behind it.
SELECT set_config('lock_timeout', $1, true)
