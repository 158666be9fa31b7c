-- read: a random account's balance and what it may still spend.
\set aid random(1, :accounts)
SELECT balance, balance - pending + credit_limit AS available
FROM accounts WHERE id = 'acc-' || :aid;
