-- A tier as scheduled, nothing taken yet.
INSERT INTO show_tiers (show_id, tier, name, capacity, base_price, steps, sold, reserved,
                        seats_left, current_price, position)
VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $7, $8, $9)
ON CONFLICT (show_id, tier) DO NOTHING
