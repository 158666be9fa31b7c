-- Box office: occupancy and revenue per show and seat tier, for sales in
-- [{from}, {to}): seats held (tickets sold less tickets refunded), the
-- tier's capacity, occupancy in basis points (held / capacity, 10000 =
-- full), and revenue (minor units: ticket prices less refunds paid, so
-- over all time a show's revenue is what `box-office:revenue` kept). Only
-- tiers with sales in the range appear; `currency` is the show's.
--
-- A ticket row names its reservation, not its tier: the tier comes from
-- `show_reservations`, its name and capacity from `show_tiers`, each
-- joined in its own step (ClickHouse 18.16 takes one JOIN per SELECT), on
-- FINAL subqueries so repeats are not joined twice. Every joined subquery
-- has an alias: current ClickHouse refuses one without.
--
-- Parameters: {from:DateTime}, {to:DateTime} (UTC).
SELECT
    show_id,
    tier_name AS tier,
    currency,
    seats_held,
    capacity,
    intDivOrZero(seats_held * 10000, toInt64(capacity)) AS occupancy_bp,
    revenue
FROM
(
    SELECT
        show_id,
        tier_index,
        sum(reservation_seats_held) AS seats_held,
        sum(reservation_revenue) AS revenue
    FROM
    (
        SELECT
            show_id,
            reservation_id,
            toInt64(countIf(refunded = 0)) - toInt64(countIf(refunded = 1)) AS reservation_seats_held,
            sumIf(price, refunded = 0) - sumIf(price, refunded = 1) AS reservation_revenue
        FROM ticket_sales FINAL
        WHERE time >= {from:DateTime} AND time < {to:DateTime}
        GROUP BY show_id, reservation_id
    ) AS by_reservation
    ANY LEFT JOIN
    (
        SELECT show_id, reservation_id, tier AS tier_index
        FROM show_reservations FINAL
    ) AS reservations USING (show_id, reservation_id)
    GROUP BY show_id, tier_index
) AS by_tier
ANY LEFT JOIN
(
    SELECT show_id, tier AS tier_index, name AS tier_name, capacity, currency
    FROM show_tiers FINAL
) AS tiers USING (show_id, tier_index)
ORDER BY show_id, tier_index
