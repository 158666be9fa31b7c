-- Pools: pot (stakes entered), rake, paid out, and number of entries per
-- pool and currency, for pool events in [{from}, {to}).
--
-- Parameters: {from:DateTime}, {to:DateTime} (UTC).
SELECT
    pool_id,
    currency,
    sum(amount) AS pot,
    sum(rake) AS rake_taken,
    sum(paid) AS paid_out,
    countIf(amount > 0) AS entries
FROM pool_entries FINAL
WHERE time >= {from:DateTime} AND time < {to:DateTime}
GROUP BY pool_id, currency
ORDER BY pool_id, currency
