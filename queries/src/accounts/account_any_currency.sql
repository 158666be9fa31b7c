-- Two rows at most: enough to tell "one currency" from "several".
SELECT account_id, currency, credit_limit, posted_debits, posted_credits, pending_debits,
       pending_credits, balance, available, version, last_position
FROM account_balances
WHERE account_id = $1
ORDER BY currency
LIMIT 2
