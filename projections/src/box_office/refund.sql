-- Issued tickets refunded: $2, or their full price when null. Returns the
-- tier of each, to put its seat back on sale.
UPDATE tickets
SET status = 'refunded', refund = coalesce($2::bigint, price), position = $3
WHERE ticket_id = ANY($1::uuid[]) AND status = 'issued' AND position < $3
RETURNING tier
