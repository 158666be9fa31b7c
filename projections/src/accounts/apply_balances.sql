-- Adds a batch's sums to the balances, one row per account. The caller has
-- kept only postings after each row's last_position, so each posting counts
-- once however the log is cut into batches or replayed; the guard on
-- last_position is a second line of the same defence.
INSERT INTO account_balances AS b (account_id, currency, posted_debits, posted_credits,
                                   pending_debits, pending_credits, version, last_position)
SELECT *
FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int8[], $6::int8[],
            $7::int8[], $8::int8[])
ON CONFLICT (account_id, currency) DO UPDATE
SET posted_debits = b.posted_debits + excluded.posted_debits,
    posted_credits = b.posted_credits + excluded.posted_credits,
    pending_debits = b.pending_debits + excluded.pending_debits,
    pending_credits = b.pending_credits + excluded.pending_credits,
    version = coalesce(excluded.version, b.version),
    last_position = excluded.last_position,
    updated_at = now()
WHERE b.last_position < excluded.last_position
-- The caller rolls the batch back unless every row changed and no sum went
-- negative (a hold resolved that was never placed, say).
RETURNING b.posted_debits >= 0 AND b.posted_credits >= 0
      AND b.pending_debits >= 0 AND b.pending_credits >= 0 AS sums_valid
