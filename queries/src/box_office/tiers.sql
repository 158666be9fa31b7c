SELECT show_id, tier, name, capacity, sold, reserved, seats_left, current_price
FROM show_tiers
WHERE show_id = ANY($1)
ORDER BY show_id, tier
