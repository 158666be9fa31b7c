-- The box office's seat tiers: one row per tier of a `show_scheduled`
-- event, keyed on (position, tier index), see 0001_postings.sql for why
-- that makes repeats harmless. `tier` is the index that reservations name;
-- `name` and `capacity` are what the box office reports show for it, and
-- `currency` is the show's (every ticket of the show is sold in it).
-- Tiers never change after scheduling (a pricing change touches only
-- prices), so one row per tier is the whole story.
CREATE TABLE IF NOT EXISTS show_tiers (
    position Int64,
    tier     UInt16,
    time     DateTime('UTC'),
    show_id  String,
    name     String,
    capacity UInt32,
    currency String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(time)
ORDER BY (position, tier)
