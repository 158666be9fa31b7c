-- Read models of the sportsbook (issue 5), kept by the `sportsbook`
-- projection (projections/src/sportsbook.rs): markets with their status,
-- result and settlement progress, each outcome's odds and liability, and
-- every bet with its legs. Derived from the event log like those of 0002,
-- and rebuilt the same way (`replay-tools rebuild sportsbook`), which is
-- why there are no foreign keys, triggers or sequences here: a rebuild
-- swaps fresh copies of these tables in, and any of those would tie the
-- copies to the tables they replace.
--
-- Every row remembers the global position of the event that last changed
-- it, and an update only lands when it comes from a later one, so that
-- applying an event twice changes nothing. Money is in minor units; odds
-- are decimal odds in ten-thousandths (25000 is 2.5000).

CREATE TABLE markets (
    market_id       text        PRIMARY KEY CHECK (market_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name            text        NOT NULL,
    starts_at       timestamptz NOT NULL,
    currency        text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status          text        NOT NULL
                    CHECK (status IN ('open', 'suspended', 'closed', 'settling', 'settled')),
    -- The most the house may lose on any one outcome.
    liability_limit bigint      NOT NULL CHECK (liability_limit >= 0),
    stake_min       bigint      NOT NULL CHECK (stake_min >= 1),
    stake_max       bigint      NOT NULL CHECK (stake_max >= stake_min),
    margin_bp       bigint      NOT NULL CHECK (margin_bp >= 0),
    -- Bets taken (an accumulator counts once on each of its markets); a
    -- cash-out does not take one back.
    bets            bigint      NOT NULL CHECK (bets >= 0),
    -- The stakes of the single bets still standing: what the house keeps
    -- whichever outcome wins. Accumulator stakes are not in it: a leg's
    -- market alone does not decide whether the house keeps them.
    stakes_total    bigint      NOT NULL CHECK (stakes_total >= 0),
    -- The settlement in force (running or finished), the one it corrects
    -- (re-settlement lineage), its result, and how many bets it has
    -- settled so far.
    settlement_id   uuid,
    replaces        uuid,
    result          jsonb,
    bets_settled    bigint      NOT NULL CHECK (bets_settled >= 0),
    -- The market stream's version and the global position of the last
    -- event applied to this market.
    version         bigint      NOT NULL CHECK (version >= 1),
    position        bigint      NOT NULL CHECK (position >= 1),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((status IN ('settling', 'settled')) = (settlement_id IS NOT NULL)),
    CHECK ((settlement_id IS NULL) = (result IS NULL))
);

-- `markets(status: ...)` pages through one status in start order; without
-- a status it pages through all of them in the same order.
CREATE INDEX markets_by_status ON markets (status, starts_at, market_id);
CREATE INDEX markets_by_start ON markets (starts_at, market_id);

-- One row per outcome of a market, in the market's order.
CREATE TABLE market_outcomes (
    market_id       text        NOT NULL,
    outcome         smallint    NOT NULL CHECK (outcome >= 0),
    name            text        NOT NULL,
    -- The current odds.
    odds            bigint      NOT NULL CHECK (odds > 0),
    -- Money staked on this outcome by every bet (accumulator legs too).
    staked          bigint      NOT NULL CHECK (staked >= 0),
    -- What the house pays if this outcome wins: the potential payout of
    -- every standing bet (single, or accumulator with a leg here) on it.
    payouts_if_wins bigint      NOT NULL CHECK (payouts_if_wins >= 0),
    -- The house's worst-case loss if this outcome wins: payouts_if_wins −
    -- the market's stakes_total. Negative when the house wins either way.
    liability       bigint      NOT NULL,
    position        bigint      NOT NULL CHECK (position >= 1),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (market_id, outcome)
);

-- One row per bet, kept from its wallet's events.
CREATE TABLE bets (
    bet_id          uuid        PRIMARY KEY,
    account_id      text        NOT NULL CHECK (length(account_id) BETWEEN 1 AND 200),
    currency        text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    stake           bigint      NOT NULL CHECK (stake >= 1),
    -- The legs' odds combined, as placed.
    odds            bigint      NOT NULL CHECK (odds > 0),
    payout_if_wins  bigint      NOT NULL CHECK (payout_if_wins >= 0),
    legs            smallint    NOT NULL CHECK (legs BETWEEN 1 AND 10),
    status          text        NOT NULL
                    CHECK (status IN ('open', 'settled', 'voided', 'cashed_out')),
    -- What the player got back in total: payouts minus their reversals,
    -- the stake itself when the bet was voided, the amount of a cash-out.
    -- NULL while the bet is open.
    returned        bigint      CHECK (returned >= 0),
    -- The settlement that last settled (or re-settled) the bet.
    settlement_id   uuid,
    placed_at       timestamptz NOT NULL,
    settled_at      timestamptz,
    -- The global position of bet_placed: the stable order bets are paged in.
    placed_position bigint      NOT NULL CHECK (placed_position >= 1),
    position        bigint      NOT NULL CHECK (position >= placed_position),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'open') = (returned IS NULL)),
    CHECK ((status = 'open') = (settled_at IS NULL))
);

-- `Account.bets(status: ...)`: one account's bets in one currency, newest
-- first, of one status or of all.
CREATE INDEX bets_by_account_status ON bets (account_id, currency, status, placed_position);
CREATE INDEX bets_by_account ON bets (account_id, currency, placed_position);

-- One row per leg of a bet (a single has one), in the order placed.
CREATE TABLE bet_legs (
    bet_id          uuid        NOT NULL,
    leg             smallint    NOT NULL CHECK (leg BETWEEN 0 AND 9),
    market_id       text        NOT NULL,
    outcome         smallint    NOT NULL CHECK (outcome >= 0),
    odds            bigint      NOT NULL CHECK (odds > 0),
    -- The leg's result ({"kind":"won","dead_heat":n}, {"kind":"lost"} or
    -- {"kind":"void"}) and the settlement that decided it; NULL until its
    -- market settles.
    result          jsonb,
    settlement_id   uuid,
    position        bigint      NOT NULL CHECK (position >= 1),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bet_id, leg),
    CHECK ((result IS NULL) = (settlement_id IS NULL))
);

-- As for the read models of 0002: the projection (running as the
-- application's role) reads and writes these, and never deletes from them;
-- a rebuild goes into fresh tables instead.
GRANT SELECT, INSERT, UPDATE ON markets, market_outcomes, bets, bet_legs TO betledger_app;
