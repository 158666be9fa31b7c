-- deposit: a random account gets a random amount.
\set aid random(1, :accounts)
\set amount random(1, :amount_max)
SELECT bl_deposit('acc-' || :aid, :amount, 'bench deposit');
