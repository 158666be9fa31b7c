-- A lifecycle event: the pool's status ($2: a status, or 'progress' to
-- keep it, or 'finished' to end it as settled or cancelled), and what its
-- payouts say so far. $3..$6 are null when the event does not set them.
UPDATE pools
SET status = CASE
        WHEN $2::text = 'finished' THEN
            CASE WHEN status = 'cancelling' THEN 'cancelled' ELSE 'settled' END
        WHEN $2::text = 'progress' THEN status
        ELSE $2::text
    END,
    winners = coalesce($3::smallint[], winners),
    entries_paid = CASE WHEN $2::text = 'finished' THEN entries
                        ELSE coalesce($4::bigint, entries_paid) END,
    paid = coalesce($5::bigint, paid),
    rake = coalesce($6::bigint, rake),
    version = $7,
    position = $8,
    updated_at = now()
WHERE pool_id = $1 AND position < $8
