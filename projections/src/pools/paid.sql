-- An entry paid its share ('paid') or refunded ('refunded').
UPDATE pool_entries
SET status = $2, returned = $3, position = $4
WHERE entry_id = $1 AND position < $4
