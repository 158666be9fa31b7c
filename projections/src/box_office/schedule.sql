-- A show scheduled: its row (its tiers are inserted beside it). A replay
-- finds it there.
INSERT INTO shows (show_id, name, starts_at, currency, status, seats_per_customer_max,
                   reservation_ttl_s, version, position)
VALUES ($1, $2, $3, $4, 'on_sale', $5, $6, $7, $8)
ON CONFLICT (show_id) DO NOTHING
