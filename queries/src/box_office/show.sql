SELECT show_id, name, starts_at, currency, status, seats_per_customer_max,
       reservation_ttl_s, version
FROM shows
WHERE show_id = $1
