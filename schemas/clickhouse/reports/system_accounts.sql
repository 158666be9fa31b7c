-- Net position of every system account (house, cash, pool escrows, box
-- office revenue, rake) per currency: the balance before {from}, what moved
-- in [{from}, {to}), and the balance before {to}. A balance is the sum of
-- the account's posted legs (credits positive); pending legs (holds, stakes
-- not yet settled) move nothing until posted.
--
-- Parameters: {from:DateTime}, {to:DateTime} (UTC).
SELECT
    account,
    currency,
    sumIf(amount, time < {from:DateTime}) AS opening,
    sumIf(amount, time >= {from:DateTime}) AS movement,
    opening + movement AS closing,
    countIf(time >= {from:DateTime}) AS postings
FROM postings FINAL
WHERE time < {to:DateTime}
    AND phase IN ('posted', 'pending_posted')
    AND (account IN ('house', 'cash', 'box-office:revenue', 'fees:rake') OR startsWith(account, 'pool:'))
GROUP BY account, currency
ORDER BY account, currency
