-- Keyset pagination on the primary key. The first page starts after
-- ('', ''), which sorts before every row: account ids are never empty.
SELECT account_id, currency, credit_limit, posted_debits, posted_credits, pending_debits,
       pending_credits, balance, available, version, last_position
FROM account_balances
WHERE (account_id, currency) > ($1, $2)
ORDER BY account_id, currency
LIMIT $3
