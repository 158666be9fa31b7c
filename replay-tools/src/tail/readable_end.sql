-- Where a follower starts by default: the last event that gap-safe readers
-- can see now (0 when none). It is the same horizon as the store's read_all:
-- every event below it has committed or never will (ADR 0002), so starting
-- after it skips nothing that commits later. The backward walk of the
-- primary key stops at the first such event, under the few still in flight.
SELECT coalesce(
    (SELECT global_position FROM events
     WHERE tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
     ORDER BY global_position DESC
     LIMIT 1),
    0)
