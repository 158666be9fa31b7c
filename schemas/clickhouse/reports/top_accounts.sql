-- Top player accounts by net result on bets over [{from}, {to}): what
-- each got back (payouts, cash-outs) less what it lost (stakes posted to
-- the house) and payouts reversed, per currency, best first; at most
-- {limit} rows. Stakes count when posted (the bet settled or was cashed
-- out), not while held, and a void moves nothing.
--
-- Parameters: {from:DateTime}, {to:DateTime} (UTC), {limit:UInt32}.
SELECT
    account,
    currency,
    sum(amount) AS net_result,
    sumIf(-amount, code = 'stake') AS staked,
    sumIf(amount, code IN ('payout', 'cash_out', 'payout_reversal')) AS returned
FROM postings FINAL
WHERE time >= {from:DateTime} AND time < {to:DateTime}
    AND code IN ('stake', 'payout', 'payout_reversal', 'cash_out')
    AND phase IN ('posted', 'pending_posted')
    AND NOT (account IN ('house', 'cash', 'box-office:revenue', 'fees:rake') OR startsWith(account, 'pool:'))
GROUP BY account, currency
ORDER BY net_result DESC, account, currency
LIMIT {limit:UInt32}
