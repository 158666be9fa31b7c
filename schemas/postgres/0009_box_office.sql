-- The box-office process finds the shows it may have work on: scheduled
-- and not finished cancelling. This index holds only those two types, so
-- the search reads one or two rows per show, not the log.
CREATE INDEX events_shows_idx ON events (stream_id, event_type)
    WHERE event_type IN ('show_scheduled', 'show_cancellation_finished');
