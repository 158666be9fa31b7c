-- The append function keeps one plan for each of its statements instead of
-- planning them again at every call.
--
-- A statement in PL/pgSQL is a prepared statement with the function's
-- arguments as parameters. Postgres plans it for each call's values (a
-- custom plan) until a plan for any values (a generic one) looks no
-- costlier. The append's statements read the batch's arrays through
-- unnest, and a custom plan knows each array's length: for the small
-- batches of a quiet system (one command an append) it always looks
-- cheaper than a generic plan, which assumes ten rows. So every call
-- planned every statement again: about 100 us a call, with nothing else
-- for those plans to choose (the same inserts from unnest, the same hash
-- join for the commands' positions, the same index probes), and for a
-- one-command append that was a third of the function's time.
--
-- Measured on one Postgres (pgbench, one client, asynchronous commit so
-- that only the work counts, alternated): a call with empty arrays 0.136 to
-- 0.163 ms against 0.215 to 0.247; with 30 events 0.69 to 0.81 ms against
-- 0.89 to 0.92; with 2,000 events no difference (the plans logged by
-- auto_explain are the same).
--
-- The setting holds only inside the function: Postgres sets it on entry
-- and puts the caller's value back on exit.

ALTER FUNCTION events_append(
    text[], int8[], uuid[], text[], text[], int4[], jsonb[], jsonb[],
    timestamptz[], bytea[], bytea[], text[], text[], bytea[], jsonb[],
    text[], int8[]
) SET plan_cache_mode = force_generic_plan;
