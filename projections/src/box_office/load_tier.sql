-- A tier, locked until the event's transaction writes it back.
SELECT name, capacity, base_price, steps, sold, reserved, position
FROM show_tiers
WHERE show_id = $1 AND tier = $2
FOR UPDATE
