-- Applies a batch of postings (one per account per transfer-touching event)
-- in one statement: the statement rows first, then the balances.
--
-- A statement row is keyed by (account, event position), and the balances
-- take only the postings whose statement row this statement newly inserted.
-- An event applied before inserts nothing and so changes no balance, even
-- when a replay cuts the log into different batches. The guard on
-- last_position is the second line of the same defence.
WITH posting AS (
    SELECT *
    FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::uuid[], $6::uuid[],
                $7::text[], $8::text[], $9::int8[], $10::text[], $11::text[],
                $12::timestamptz[], $13::int8[], $14::int8[], $15::int8[], $16::int8[],
                $17::int8[])
        AS p(account_id, currency, position, event_type, transfer_id, hold_id,
             code, phase, amount, counterparty, description,
             recorded_at, version, posted_debits, posted_credits, pending_debits,
             pending_credits)
),
inserted AS (
    INSERT INTO account_statement (account_id, currency, position, event_type, transfer_id,
                                   hold_id, code, phase, amount, counterparty, description,
                                   recorded_at)
    SELECT account_id, currency, position, event_type, transfer_id, hold_id, code, phase,
           amount, counterparty, description, recorded_at
    FROM posting
    ON CONFLICT (account_id, position) DO NOTHING
    RETURNING account_id, position
),
grouped AS (
    SELECT p.account_id, p.currency,
           sum(p.posted_debits)::int8 AS posted_debits,
           sum(p.posted_credits)::int8 AS posted_credits,
           sum(p.pending_debits)::int8 AS pending_debits,
           sum(p.pending_credits)::int8 AS pending_credits,
           max(p.version) AS version,
           max(p.position) AS last_position
    FROM posting p
    JOIN inserted i USING (account_id, position)
    GROUP BY p.account_id, p.currency
),
applied AS (
    INSERT INTO account_balances AS b (account_id, currency, posted_debits, posted_credits,
                                       pending_debits, pending_credits, version, last_position)
    SELECT * FROM grouped
    ON CONFLICT (account_id, currency) DO UPDATE
    SET posted_debits = b.posted_debits + excluded.posted_debits,
        posted_credits = b.posted_credits + excluded.posted_credits,
        pending_debits = b.pending_debits + excluded.pending_debits,
        pending_credits = b.pending_credits + excluded.pending_credits,
        version = coalesce(excluded.version, b.version),
        last_position = excluded.last_position,
        updated_at = now()
    WHERE b.last_position < excluded.last_position
    RETURNING b.posted_debits >= 0 AND b.posted_credits >= 0
          AND b.pending_debits >= 0 AND b.pending_credits >= 0 AS sums_valid
)
-- The caller checks two invariants and rolls the batch back if either
-- fails: every account that got new statement rows had its balance changed
-- (none was ahead of its statement), and no sum went negative (a hold
-- resolved that was never placed, say). Neither happens in a log that
-- double entry produced.
SELECT (SELECT count(*) FROM grouped) AS accounts_posted,
       (SELECT count(*) FROM applied) AS balances_changed,
       (SELECT count(*) FROM applied WHERE NOT sums_valid) AS balances_negative
