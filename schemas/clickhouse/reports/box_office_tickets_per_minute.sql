-- Box office: tickets sold per minute per show, for sales in [{from},
-- {to}): sold, refunded, and net tickets, with the revenue of the minute
-- (minor units, refunds subtracted). Empty until the box office's events
-- land (issue 6) and the sink maps them into ticket_sales.
--
-- Parameters: {from:DateTime}, {to:DateTime} (UTC).
SELECT
    show_id,
    toStartOfMinute(time) AS minute,
    countIf(refunded = 0) AS sold,
    countIf(refunded = 1) AS refunded_tickets,
    sold - refunded_tickets AS net_tickets,
    sumIf(price, refunded = 0) - sumIf(price, refunded = 1) AS revenue
FROM ticket_sales FINAL
WHERE time >= {from:DateTime} AND time < {to:DateTime}
GROUP BY show_id, minute
ORDER BY show_id, minute
