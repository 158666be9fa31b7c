-- A page of shows in start-time order, after a (starts_at, show_id) cursor.
SELECT show_id, name, starts_at, currency, status, seats_per_customer_max,
       reservation_ttl_s, version
FROM shows
WHERE (starts_at, show_id) > ($1, $2)
ORDER BY starts_at, show_id
LIMIT $3
