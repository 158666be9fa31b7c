-- An entry taken: its row, and the pot and the outcome's stake grow, each
-- only when this event is newer than what the row has applied.
WITH entry AS (
    INSERT INTO pool_entries (entry_id, pool_id, account_id, outcome, stake, status,
                              entered_at, entered_position, position)
    VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $7)
    ON CONFLICT (entry_id) DO NOTHING
), outcome AS (
    UPDATE pool_outcomes
    SET staked = staked + $5, entries = entries + 1, position = $7
    WHERE pool_id = $2 AND outcome = $4 AND position < $7
)
UPDATE pools
SET pot = pot + $5, entries = entries + 1, version = $8, position = $7, updated_at = now()
WHERE pool_id = $2 AND position < $7
