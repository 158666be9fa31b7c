-- The settlement process finds the markets whose settlement is still
-- running: those with more `settlement_started` than `market_settled`
-- events. This index holds only those two types, so the search reads a
-- couple of rows per market ever settled, not the log.
CREATE INDEX events_settlements_idx ON events (stream_id, event_type)
    WHERE event_type IN ('settlement_started', 'market_settled');
