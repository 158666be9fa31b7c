-- Sportsbook by day: handle, voided stakes, payouts, GGR and hold, per UTC
-- day and currency, for bet events in [{from}, {to}).
--
--   handle   stakes of bets placed that day
--   voided   stakes returned that day by bets settled void
--   payouts  paid that day (winnings, void-free returns, cash-outs), less
--            payouts reversed that day by a corrected settlement
--   ggr      handle - voided - payouts (cash basis: a bet's stake counts on
--            the day it was placed, its payout on the day it was paid)
--   hold_bp  ggr / (handle - voided), in basis points (1234 = 12.34 %),
--            rounded toward zero; 0 when nothing was staked
--
-- All money in minor units. Parameters: {from:DateTime}, {to:DateTime}
-- (UTC). FINAL folds rows delivered twice (docs/analytics.md).
SELECT
    toDate(time) AS day,
    currency,
    sumIf(stake, event_type = 'bet_placed') AS handle,
    sumIf(stake, event_type = 'bet_voided') AS voided,
    sumIf(payout, event_type IN ('bet_settled', 'bet_paid', 'bet_payout_reversed')) AS payouts,
    handle - voided - payouts AS ggr,
    intDivOrZero(ggr * 10000, handle - voided) AS hold_bp
FROM bets FINAL
WHERE time >= {from:DateTime} AND time < {to:DateTime}
GROUP BY day, currency
ORDER BY day, currency
