-- Every account's sums over the legs up to a position (bound client-side),
-- as the ledger's Totals keep them: posted = credits - debits that moved
-- money; pending = reserved (phase pending) less what was later posted or
-- voided. FINAL folds legs delivered twice.
SELECT
    account,
    currency,
    sumIf(amount, phase IN ('posted', 'pending_posted')) AS posted,
    sumIf(amount, phase = 'pending') - sumIf(amount, phase IN ('pending_posted', 'pending_voided')) AS pending
FROM postings FINAL
WHERE position <= ?
GROUP BY account, currency
ORDER BY account, currency
