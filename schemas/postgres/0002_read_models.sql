-- Read models (DESIGN.md §5): the projections' checkpoints and the tables of
-- the `accounts` projection. Every row here is derived from the event log and
-- can be rebuilt from position 0; only the projections write them.

-- One row per projection: the global position of the last event it applied.
-- The runner moves it in the same transaction as the rows it changes, so a
-- batch is applied exactly once however often the runner restarts.
CREATE TABLE projection_checkpoints (
    name       text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 100),
    position   bigint      NOT NULL DEFAULT 0 CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Balances of player wallets and system accounts (`house`, `cash`, ...), one
-- row per account and currency, in minor units. The four sums are never
-- negative in a log that double entry produced; the projection checks that
-- after each batch (a CHECK cannot: Postgres checks the row an upsert
-- proposes, and the proposed row holds the batch's deltas, which can be).
CREATE TABLE account_balances (
    account_id      text        NOT NULL CHECK (length(account_id) BETWEEN 1 AND 200),
    currency        text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- 0 for system accounts: no decision is ever taken on their balance.
    credit_limit    bigint      NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    posted_debits   bigint      NOT NULL DEFAULT 0,
    posted_credits  bigint      NOT NULL DEFAULT 0,
    pending_debits  bigint      NOT NULL DEFAULT 0,
    pending_credits bigint      NOT NULL DEFAULT 0,
    -- Posted sums only ever grow from 0, so the difference always fits.
    balance         bigint      GENERATED ALWAYS AS (posted_credits - posted_debits) STORED,
    -- Computed wide and clamped into bigint, as `Wallet::available` does, so
    -- that no combination of sums and limit can make an update fail.
    available       bigint      GENERATED ALWAYS AS (
                        LEAST(GREATEST(
                            posted_credits::numeric - posted_debits - pending_debits + credit_limit,
                            -9223372036854775808::numeric), 9223372036854775807::numeric)::bigint
                    ) STORED,
    -- The wallet's stream_version of the last event applied to it, which a
    -- client can compare with a command's response. NULL for system
    -- accounts, which are not streams.
    version         bigint      CHECK (version >= 1),
    -- The global position of the event that last changed this row; updates
    -- are guarded by it, so applying an event twice changes nothing.
    last_position   bigint      NOT NULL CHECK (last_position >= 1),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, currency)
);
-- The primary key serves the `accounts` connection, ordered by
-- (account_id, currency).

-- One row per account per event that moves money on it: both sides of every
-- transfer. The primary key is also what makes a posting idempotent: the
-- balances are changed only by the statement rows that were newly inserted.
CREATE TABLE account_statement (
    account_id   text        NOT NULL,
    currency     text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    position     bigint      NOT NULL CHECK (position >= 1),
    event_type   text        NOT NULL,
    transfer_id  uuid        NOT NULL,
    hold_id      uuid,
    -- The transfer's reason code (deposit, withdrawal, hold, ...).
    code         text        NOT NULL,
    phase        text        NOT NULL
                 CHECK (phase IN ('posted', 'pending', 'pending_posted', 'pending_voided')),
    -- Signed from this account's view: credit positive, debit negative. The
    -- phase says whether the money moved, was reserved or was released.
    amount       bigint      NOT NULL CHECK (amount <> 0),
    counterparty text        NOT NULL,
    description  text,
    recorded_at  timestamptz NOT NULL,
    PRIMARY KEY (account_id, position)
);

-- Cursor pagination of one account's statement in one currency, by position
-- (either direction). System accounts hold several currencies, so the key
-- alone would make a page of one currency scan the others.
CREATE INDEX account_statement_page ON account_statement (account_id, currency, position);

-- Projections run as the application's role: they read and write read
-- models but never delete from them (a rebuild goes into fresh tables).
GRANT SELECT, INSERT, UPDATE ON projection_checkpoints, account_balances, account_statement
    TO betledger_app;
