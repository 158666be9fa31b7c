-- Parimutuel pool entries and settlements (issue 6): one row per pool
-- event, keyed on position. `amount` is an entry's stake; `rake` and
-- `paid` are set by the pool's settlement. Created now so that the reports
-- over it exist; empty until the pools' events land and the sink maps them.
CREATE TABLE IF NOT EXISTS pool_entries (
    position   Int64,
    time       DateTime('UTC'),
    event_type String,
    pool_id    String,
    outcome    UInt16,
    account    String,
    currency   String,
    amount     Int64,
    rake       Int64,
    paid       Int64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(time)
ORDER BY position
