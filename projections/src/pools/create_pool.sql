-- A pool created: its row and one row per outcome. A replay finds them there.
WITH pool AS (
    INSERT INTO pools (pool_id, name, currency, status, min_entry, rake_bp, closes_at,
                       pot, entries, version, position)
    VALUES ($1, $2, $3, 'open', $4, $5, $6, 0, 0, $7, $8)
    ON CONFLICT (pool_id) DO NOTHING
)
INSERT INTO pool_outcomes (pool_id, outcome, name, staked, entries, position)
SELECT $1, (o.ordinality - 1)::smallint, o.name, 0, 0, $8
FROM unnest($9::text[]) WITH ORDINALITY AS o(name, ordinality)
ON CONFLICT (pool_id, outcome) DO NOTHING
