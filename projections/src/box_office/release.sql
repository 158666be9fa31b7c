-- Open reservations let go ($2: 'expired' or 'released'). Returns the tier
-- and seats of each, to put back on sale.
UPDATE show_reservations
SET status = $2, position = $3
WHERE reservation_id = ANY($1::uuid[]) AND status = 'open' AND position < $3
RETURNING tier, seats
