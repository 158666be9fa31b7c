-- Box office: occupancy and revenue per show and seat tier, for sales in
-- [{from}, {to}): seats held (sold less refunded), the tier's capacity,
-- occupancy in basis points (held / capacity, 10000 = full), and revenue
-- (minor units, refunds subtracted). Empty until the box office's events
-- land (issue 6).
--
-- Parameters: {from:DateTime}, {to:DateTime} (UTC).
SELECT
    show_id,
    tier,
    currency,
    toInt64(countIf(refunded = 0)) - toInt64(countIf(refunded = 1)) AS seats_held,
    max(capacity) AS capacity,
    intDivOrZero(seats_held * 10000, toInt64(capacity)) AS occupancy_bp,
    sumIf(price, refunded = 0) - sumIf(price, refunded = 1) AS revenue
FROM ticket_sales FINAL
WHERE time >= {from:DateTime} AND time < {to:DateTime}
GROUP BY show_id, tier, currency
ORDER BY show_id, tier, currency
