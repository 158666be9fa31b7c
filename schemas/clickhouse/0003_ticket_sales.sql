-- Box office ticket sales (issue 6): one row per ticket sold or refunded,
-- keyed on (position, seat index within the event). Created now so that the
-- reports over it exist; empty until the box office's events land and the
-- sink maps them (docs/analytics.md).
CREATE TABLE IF NOT EXISTS ticket_sales (
    position   Int64,
    seat       UInt32,
    time       DateTime('UTC'),
    event_type String,
    show_id    String,
    tier       String,
    account    String,
    currency   String,
    price      Int64,
    capacity   UInt32,
    refunded   UInt8
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(time)
ORDER BY (position, seat)
