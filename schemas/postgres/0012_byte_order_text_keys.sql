-- The hot text keys compare byte by byte (COLLATE "C").
--
-- Every append inserts into the (stream_id, stream_version) index and the
-- commands' primary key, and every projection step into the balances' and
-- statements' keys. Under any collation but "C" (even the common C.UTF-8),
-- Postgres compares text keys through strcoll, copying both strings to
-- terminate them first; "C" compares bytes. These ids are ASCII (the API's
-- rules), and byte order is C.UTF-8's order for ASCII, so pages and cursors
-- stay as they were there; on a database whose default collation sorts
-- ASCII otherwise (en_US, say) account pages come in byte order from now
-- on, and a cursor taken before still pages on, in that order.
--
-- A collation change needs no table rewrite, only the indexes on the
-- columns rebuilt, under the tables' exclusive lock (docs/operations.md:
-- migrate a large store in a quiet window). Tables rebuilt LIKE these
-- (replay-tools rebuild) copy the collation.
ALTER TABLE events ALTER COLUMN stream_id TYPE text COLLATE "C";
ALTER TABLE commands ALTER COLUMN command_id TYPE text COLLATE "C";
ALTER TABLE account_balances ALTER COLUMN account_id TYPE text COLLATE "C";
ALTER TABLE account_statement ALTER COLUMN account_id TYPE text COLLATE "C";
