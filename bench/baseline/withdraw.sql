-- withdraw: a random account pays out a random amount, if it can.
\set aid random(1, :accounts)
\set amount random(1, :amount_max)
SELECT bl_withdraw('acc-' || :aid, :amount, 'bench withdraw');
