-- One row per sportsbook bet event on a wallet, keyed on the event's global
-- position (see 0001_postings.sql for why that makes repeats harmless).
--
-- `stake` is set on bet_placed (the stake held), bet_voided (the stake
-- released), bet_settled and bet_cashed_out (the stake posted to the
-- house). `payout` is set on bet_settled (what a winning bet returned, paid
-- in the same event since its version 2), bet_paid (positive: a payout, or
-- a cash-out when code is `cash_out`) and bet_payout_reversed (negative). `market`,
-- `outcome` and `odds` (ten-thousandths) are the first leg's on bet_placed
-- (`legs` counts them); the settling market on bet_settled and bet_voided;
-- empty on the payment events, which reports join to their bet_placed row.
CREATE TABLE IF NOT EXISTS bets (
    position   Int64,
    time       DateTime('UTC'),
    event_type String,
    bet_id     String,
    account    String,
    currency   String,
    market     String,
    outcome    UInt16,
    legs       UInt8,
    odds       UInt64,
    stake      Int64,
    payout     Int64,
    code       String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(time)
ORDER BY position
