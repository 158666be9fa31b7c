-- Every transfer leg of the ledger: both sides of each event's transfers, one
-- row each (leg 0 the debit side, leg 1 the credit side of the event's first
-- transfer; 2 and 3 of its second, when it has one), signed from the
-- account's view (credit positive, debit negative), in minor units.
--
-- Delivery is at-least-once (the sink inserts, then moves its checkpoint in
-- Postgres): a leg may arrive twice, always with the same values, since it
-- is derived from one immutable event. The sorting key (position, leg) is
-- the leg's identity, so ReplacingMergeTree folds the copies together when
-- parts merge, and every report reads with FINAL so that copies not merged
-- yet are never counted (docs/analytics.md, "Exactly once in effect").
--
-- `phase` says whether money moved: `posted` and `pending_posted` move it;
-- `pending` (a hold or a bet's stake reserved) and `pending_voided` (one
-- released) do not. A balance is the sum over the two that move it.
CREATE TABLE IF NOT EXISTS postings (
    position     Int64,
    leg          UInt8,
    time         DateTime('UTC'),
    event_type   String,
    transfer_id  String,
    account      String,
    counterparty String,
    amount       Int64,
    currency     String,
    code         String,
    phase        String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(time)
ORDER BY (position, leg)
