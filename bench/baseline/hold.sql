-- hold: a random account reserves a random amount (a bet placed). The client
-- remembers its latest pending hold for post.sql and void.sql, as a `bench
-- http` worker does.
\set aid random(1, :accounts)
\set amount random(1, :amount_max)
SELECT bl_place_hold('acc-' || :aid, :amount, 'bench hold') AS hold_id \gset
\set hold_pending :hold_id > 0
