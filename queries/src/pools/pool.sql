SELECT pool_id, name, currency, status, min_entry, rake_bp, closes_at, pot, entries,
       winners, entries_paid, paid, rake, version, position
FROM pools
WHERE pool_id = $1
