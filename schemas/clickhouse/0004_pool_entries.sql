-- Parimutuel pool money (issue 6): one row per pool money event, keyed on
-- position: `pool_entered` (an entry's stake in `amount`), `pool_paid` and
-- `pool_refunded` (`paid`), `pool_rake_taken` (`rake`). So for a finished
-- pool, sum(amount) = sum(paid) + sum(rake).
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
