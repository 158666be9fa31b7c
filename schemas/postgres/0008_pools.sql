-- Parimutuel pools (issue 6).
--
-- The pool processes (commands/src/pool_payouts.rs) find pools to close
-- at their close time and pools whose payouts are still running from the
-- lifecycle events alone; this index holds only those types, so the
-- searches read a few rows per pool, not the log.
CREATE INDEX events_pool_lifecycle_idx ON events (stream_id, event_type)
    WHERE event_type IN ('pool_created', 'pool_closed', 'pool_cancelled',
                         'pool_settlement_started', 'pool_payouts_finished');

-- Read models kept by the `pools` projection (projections/src/pools.rs),
-- derived from the log like those of 0002 and 0006 and rebuilt the same
-- way (`replay-tools rebuild pools`): no foreign keys, triggers or
-- sequences. Every row remembers the global position of the event that
-- last changed it, and an update only lands from a later one, so applying
-- an event twice changes nothing. Money is in minor units.

CREATE TABLE pools (
    pool_id      text        PRIMARY KEY CHECK (pool_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name         text        NOT NULL,
    currency     text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status       text        NOT NULL CHECK (status IN
                     ('open', 'closed', 'settling', 'settled', 'cancelling', 'cancelled')),
    min_entry    bigint      NOT NULL CHECK (min_entry >= 1),
    rake_bp      integer     NOT NULL CHECK (rake_bp >= 0 AND rake_bp < 10000),
    closes_at    timestamptz NOT NULL,
    -- Σ stakes, and how many entries.
    pot          bigint      NOT NULL CHECK (pot >= 0),
    entries      bigint      NOT NULL CHECK (entries >= 0),
    -- The winning outcomes once settled; null while open or when cancelled.
    winners      smallint[],
    -- How far the payouts got, what they paid, and the rake once taken.
    entries_paid bigint      NOT NULL DEFAULT 0 CHECK (entries_paid >= 0),
    paid         bigint      NOT NULL DEFAULT 0 CHECK (paid >= 0),
    rake         bigint      NOT NULL DEFAULT 0 CHECK (rake >= 0),
    version      bigint      NOT NULL CHECK (version >= 1),
    position     bigint      NOT NULL CHECK (position >= 1),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- `pools(first, after)` pages in close-time order.
CREATE INDEX pools_by_close ON pools (closes_at, pool_id);

CREATE TABLE pool_outcomes (
    pool_id   text     NOT NULL,
    outcome   smallint NOT NULL CHECK (outcome >= 0),
    name      text     NOT NULL,
    staked    bigint   NOT NULL CHECK (staked >= 0),
    entries   bigint   NOT NULL CHECK (entries >= 0),
    position  bigint   NOT NULL CHECK (position >= 1),
    PRIMARY KEY (pool_id, outcome)
);

CREATE TABLE pool_entries (
    entry_id   uuid        PRIMARY KEY,
    pool_id    text        NOT NULL,
    account_id text        NOT NULL,
    outcome    smallint    NOT NULL CHECK (outcome >= 0),
    stake      bigint      NOT NULL CHECK (stake >= 1),
    -- 'open' until the escrow pays it ('paid') or gives the stake back
    -- ('refunded'); an entry that lost stays 'open' with the pool settled.
    status     text        NOT NULL CHECK (status IN ('open', 'paid', 'refunded')),
    returned   bigint      NOT NULL DEFAULT 0 CHECK (returned >= 0),
    entered_at timestamptz NOT NULL,
    -- The position of the entry's `pool_entry_accepted`: its order.
    entered_position bigint NOT NULL CHECK (entered_position >= 1),
    position   bigint      NOT NULL CHECK (position >= 1)
);

-- `Account.poolEntries(first, after)` pages an account's entries newest first.
CREATE INDEX pool_entries_by_account ON pool_entries (account_id, entered_position DESC);
