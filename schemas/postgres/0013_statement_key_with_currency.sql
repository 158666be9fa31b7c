-- One index on statement lines instead of two.
--
-- Lines were keyed by (account_id, position) for idempotency and indexed
-- again by (account_id, currency, position) for pages of one currency. A
-- transfer moves one currency, so an account has at most one line per
-- event in any case: (account_id, currency, position) is as unique, keeps
-- postings idempotent, and serves the pages. Every line the statements
-- projection writes now updates one btree, not two.
--
-- Like 0012, this builds an index under the table's exclusive lock: migrate
-- a large store in a quiet window (docs/operations.md).
ALTER TABLE account_statement DROP CONSTRAINT account_statement_pkey;
ALTER TABLE account_statement ADD CONSTRAINT account_statement_pkey
    PRIMARY KEY (account_id, currency, position);
DROP INDEX account_statement_page;
