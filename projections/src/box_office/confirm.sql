-- A reservation confirmed, if still open: one ticket per seat at its unit
-- price, in the order the event lists them. Returns the tier and seats
-- moved from reserved to sold, or nothing when applied already.
WITH confirmed AS (
    UPDATE show_reservations
    SET status = 'confirmed', position = $4
    WHERE reservation_id = $1 AND status = 'open' AND position < $4
    RETURNING reservation_id, show_id, tier, account_id, seats, unit_price
), issued AS (
    INSERT INTO tickets (ticket_id, reservation_id, show_id, tier, account_id, price, status,
                         issued_at, issued_position, position)
    SELECT t.id, c.reservation_id, c.show_id, c.tier, c.account_id, c.unit_price, 'issued',
           $3, $4, $4
    FROM confirmed c, unnest($2::uuid[]) AS t(id)
    ON CONFLICT (ticket_id) DO NOTHING
)
SELECT tier, seats FROM confirmed
