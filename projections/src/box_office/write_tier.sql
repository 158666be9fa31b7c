-- A tier changed by the event at $8, with its price recomputed in Rust.
UPDATE show_tiers
SET steps = $3, sold = $4, reserved = $5, seats_left = $6, current_price = $7, position = $8
WHERE show_id = $1 AND tier = $2 AND position < $8
