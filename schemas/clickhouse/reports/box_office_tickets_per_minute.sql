-- Box office: tickets sold per minute per show, for sales in [{from},
-- {to}): sold, refunded, and net tickets, with the revenue of the minute
-- (minor units, refunds subtracted), and the show's currency.
--
-- Every ticket row carries its show; the currency is the show's, from
-- `show_tiers` (a refund that paid nothing has no currency of its own),
-- joined in a step of its own on a FINAL subquery (ClickHouse 18.16 takes
-- one JOIN per SELECT and `ANY LEFT JOIN ... USING`).
--
-- Parameters: {from:DateTime}, {to:DateTime} (UTC).
SELECT
    show_id,
    minute,
    currency,
    sold,
    refunded_tickets,
    net_tickets,
    revenue
FROM
(
    SELECT
        show_id,
        toStartOfMinute(time) AS minute,
        countIf(refunded = 0) AS sold,
        countIf(refunded = 1) AS refunded_tickets,
        toInt64(sold) - toInt64(refunded_tickets) AS net_tickets,
        sumIf(price, refunded = 0) - sumIf(price, refunded = 1) AS revenue
    FROM ticket_sales FINAL
    WHERE time >= {from:DateTime} AND time < {to:DateTime}
    GROUP BY show_id, minute
) AS by_minute
ANY LEFT JOIN
(
    SELECT show_id, any(currency) AS currency
    FROM show_tiers FINAL
    GROUP BY show_id
) AS shows USING (show_id)
ORDER BY show_id, minute
