-- Seats reserved: the reservation's row, unless a replay finds it there.
INSERT INTO show_reservations (reservation_id, show_id, tier, account_id, seats, unit_price,
                               expires_at, status, reserved_position, position)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $8)
ON CONFLICT (reservation_id) DO NOTHING
