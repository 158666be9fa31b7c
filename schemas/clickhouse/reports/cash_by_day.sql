-- Deposits and withdrawals by UTC day and currency, for transfers in
-- [{from}, {to}): sums (minor units, both positive) and counts, and the
-- net inflow (deposits - withdrawals). Read on the wallet's side of each
-- transfer (a deposit credits it, a withdrawal debits it).
--
-- Parameters: {from:DateTime}, {to:DateTime} (UTC).
SELECT
    toDate(time) AS day,
    currency,
    sumIf(amount, code = 'deposit') AS deposits,
    countIf(code = 'deposit') AS deposit_count,
    -sumIf(amount, code = 'withdrawal') AS withdrawals,
    countIf(code = 'withdrawal') AS withdrawal_count,
    deposits - withdrawals AS net
FROM postings FINAL
WHERE time >= {from:DateTime} AND time < {to:DateTime}
    AND ((code = 'deposit' AND leg = 1) OR (code = 'withdrawal' AND leg = 0))
    AND phase = 'posted'
GROUP BY day, currency
ORDER BY day, currency
