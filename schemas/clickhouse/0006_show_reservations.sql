-- The box office's reservations: one row per `show_seats_reserved` event,
-- keyed on its position (see 0001_postings.sql). It ties a reservation to
-- its tier, which the wallet's ticket events do not carry: reports join
-- `ticket_sales` to it on (show_id, reservation_id). `unit_price` is the
-- price in force when reserved, which every ticket of the reservation
-- pays; whether it was then confirmed or expired is in `ticket_sales`
-- (only confirmed reservations have tickets).
CREATE TABLE IF NOT EXISTS show_reservations (
    position       Int64,
    time           DateTime('UTC'),
    reservation_id String,
    show_id        String,
    tier           UInt16,
    seats          UInt32,
    unit_price     Int64,
    account        String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(time)
ORDER BY position
