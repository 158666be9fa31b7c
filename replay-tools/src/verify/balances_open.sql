-- Every balance row, in the replay's order (bytes, not the database's
-- collation), through a cursor of the audit's snapshot.
DECLARE verify_balances NO SCROLL CURSOR FOR
SELECT account_id, currency, credit_limit, posted_debits, posted_credits, pending_debits,
       pending_credits, version, last_position
FROM account_balances
ORDER BY account_id COLLATE "C", currency COLLATE "C"
