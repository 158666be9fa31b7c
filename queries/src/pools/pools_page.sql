-- A page of pools in close-time order, after a (closes_at, pool_id) cursor.
SELECT pool_id, name, currency, status, min_entry, rake_bp, closes_at, pot, entries,
       winners, entries_paid, paid, rake, version, position
FROM pools
WHERE (closes_at, pool_id) > ($1, $2)
ORDER BY closes_at, pool_id
LIMIT $3
