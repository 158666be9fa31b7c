-- Any later event of the show: its version, and its status when the event
-- sets one ($2, null otherwise).
UPDATE shows
SET status = coalesce($2::text, status), version = $3, position = $4, updated_at = now()
WHERE show_id = $1 AND position < $4
