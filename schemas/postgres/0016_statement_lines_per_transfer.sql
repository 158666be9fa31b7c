-- A statement line per transfer of an event, not per event.
--
-- Until now every event moved at most one transfer, so an account had at
-- most one line at an event's position. A winning bet will be settled by
-- one event that posts its stake and pays its payout (two transfers, both
-- between the wallet and the house), so the key gains the transfer's index
-- in its event: 0 for the first, 1 for the second. Every line written so
-- far is the first of its event.
--
-- Like 0013, this builds the key's index under the table's exclusive lock:
-- migrate a large store in a quiet window (docs/operations.md). A statement
-- cursor handed out before it no longer reads as one (it held a position
-- alone); the client starts again from the first page.
ALTER TABLE account_statement
    ADD COLUMN line smallint NOT NULL DEFAULT 0 CHECK (line >= 0);
ALTER TABLE account_statement DROP CONSTRAINT account_statement_pkey;
ALTER TABLE account_statement ADD CONSTRAINT account_statement_pkey
    PRIMARY KEY (account_id, currency, position, line);
