-- post: resolves the client's latest pending hold (a bet lost: the money moves).
-- A client with none places one instead, exactly as a `bench http` worker
-- does, so both sides run the same operations.
\if :hold_pending
SELECT bl_resolve_hold(:hold_id, true);
\set hold_pending 0
\else
\set aid random(1, :accounts)
\set amount random(1, :amount_max)
SELECT bl_place_hold('acc-' || :aid, :amount, 'bench hold') AS hold_id \gset
\set hold_pending :hold_id > 0
\endif
