-- One account's pool entries in its currency, newest first, before a position.
SELECT e.entry_id, e.pool_id, e.outcome, e.stake, e.status, e.returned, e.entered_at,
       e.entered_position, p.status AS pool_status
FROM pool_entries e
JOIN pools p ON p.pool_id = e.pool_id
WHERE e.account_id = $1 AND p.currency = $2 AND e.entered_position < $3
ORDER BY e.entered_position DESC
LIMIT $4
