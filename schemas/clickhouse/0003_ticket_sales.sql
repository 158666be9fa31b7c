-- Box office ticket sales: one row per ticket, keyed on (position, seat
-- index within the event), see 0001_postings.sql for why that makes
-- repeats harmless.
--
-- `seats_purchased` (a reservation confirmed) gives one row per ticket it
-- issued, seat 0.., with `refunded` = 0 and `price` the ticket's unit price
-- (the transfer's amount divided by the tickets; the domain holds exactly
-- seats × unit price). `ticket_refunded` gives one row, seat 0, with
-- `refunded` = 1 and `price` the money given back (0 when the refund rule
-- gave nothing, and then `currency` is empty: no transfer names it).
--
-- The tier and its capacity are not here: they are on the show's events,
-- not the wallet's, and a row is derived from one event alone (the sink
-- keeps no state across batches). Reports join `show_reservations` on
-- (show_id, reservation_id) for the tier and `show_tiers` on (show_id,
-- tier) for its name and capacity.
--
-- This shape replaced one without `reservation_id` (with tier and
-- capacity columns) that nothing ever wrote; `Analytics::migrate` drops a
-- table of that shape before this statement runs (docs/analytics.md).
CREATE TABLE IF NOT EXISTS ticket_sales (
    position       Int64,
    seat           UInt32,
    time           DateTime('UTC'),
    event_type     String,
    show_id        String,
    reservation_id String,
    ticket_id      String,
    account        String,
    currency       String,
    price          Int64,
    refunded       UInt8
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(time)
ORDER BY (position, seat)
