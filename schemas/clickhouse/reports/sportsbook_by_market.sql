-- Sportsbook by market: handle, voided stakes, payouts, GGR and hold per
-- market and currency, for bet events in [{from}, {to}). The measures are
-- those of sportsbook_by_day.sql. A bet belongs to the market of its first
-- leg (an accumulator counts once, under its first leg's market); its
-- payments are joined to it by bet id, whenever it was placed.
--
-- Parameters: {from:DateTime}, {to:DateTime} (UTC).
SELECT
    bet_market AS market,
    currency,
    sumIf(stake, event_type = 'bet_placed') AS handle,
    sumIf(stake, event_type = 'bet_voided') AS voided,
    sumIf(payout, event_type IN ('bet_settled', 'bet_paid', 'bet_payout_reversed')) AS payouts,
    handle - voided - payouts AS ggr,
    intDivOrZero(ggr * 10000, handle - voided) AS hold_bp
FROM
(
    SELECT bet_id, event_type, currency, stake, payout
    FROM bets FINAL
    WHERE time >= {from:DateTime} AND time < {to:DateTime}
        AND event_type IN ('bet_placed', 'bet_voided', 'bet_settled', 'bet_paid',
                           'bet_payout_reversed')
) AS bet_events
ANY LEFT JOIN
(
    SELECT bet_id, market AS bet_market
    FROM bets FINAL
    WHERE event_type = 'bet_placed'
) AS placed
USING bet_id
GROUP BY market, currency
ORDER BY market, currency
