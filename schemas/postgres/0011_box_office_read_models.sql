-- Read models kept by the `box_office` projection
-- (projections/src/box_office.rs), derived from the show streams like those
-- of 0002, 0006 and 0008 and rebuilt the same way (`replay-tools rebuild
-- box-office`): no foreign keys, triggers or sequences. Every row
-- remembers the global position of the event that last changed it, and an
-- update only lands from a later one, so applying an event twice changes
-- nothing. Money is in minor units.

CREATE TABLE shows (
    show_id    text        PRIMARY KEY CHECK (show_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name       text        NOT NULL,
    starts_at  timestamptz NOT NULL,
    currency   text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status     text        NOT NULL CHECK (status IN ('on_sale', 'cancelling', 'cancelled')),
    seats_per_customer_max integer NOT NULL CHECK (seats_per_customer_max >= 1),
    reservation_ttl_s      integer NOT NULL CHECK (reservation_ttl_s >= 1),
    version    bigint      NOT NULL CHECK (version >= 1),
    position   bigint      NOT NULL CHECK (position >= 1),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- `shows(first, after)` pages in start-time order.
CREATE INDEX shows_by_start ON shows (starts_at, show_id);

-- A tier's seats and the price a reservation made now would pay. The
-- projection computes `current_price` with the ledger's pricing rule
-- (ledger::box_office::pricing::unit_price) from `base_price`, `steps`
-- and the seats taken, so SQL never prices anything.
CREATE TABLE show_tiers (
    show_id       text     NOT NULL,
    tier          smallint NOT NULL CHECK (tier >= 0),
    name          text     NOT NULL,
    capacity      integer  NOT NULL CHECK (capacity >= 1),
    base_price    bigint   NOT NULL CHECK (base_price >= 1),
    -- The pricing rule's steps as scheduled or last changed:
    -- [{"at_sold_bp": .., "raise_bp": ..}, ...].
    steps         jsonb    NOT NULL,
    sold          integer  NOT NULL CHECK (sold >= 0),
    reserved      integer  NOT NULL CHECK (reserved >= 0),
    seats_left    integer  NOT NULL CHECK (seats_left >= 0),
    current_price bigint   NOT NULL CHECK (current_price >= 1),
    position      bigint   NOT NULL CHECK (position >= 1),
    PRIMARY KEY (show_id, tier)
);

CREATE TABLE show_reservations (
    reservation_id uuid        PRIMARY KEY,
    show_id        text        NOT NULL,
    tier           smallint    NOT NULL CHECK (tier >= 0),
    account_id     text        NOT NULL,
    seats          integer     NOT NULL CHECK (seats >= 1),
    unit_price     bigint      NOT NULL CHECK (unit_price >= 1),
    expires_at     timestamptz NOT NULL,
    -- 'released': let go by the show's cancellation.
    status         text        NOT NULL CHECK (status IN ('open', 'confirmed', 'expired', 'released')),
    reserved_position bigint   NOT NULL CHECK (reserved_position >= 1),
    position       bigint      NOT NULL CHECK (position >= 1)
);

CREATE TABLE tickets (
    ticket_id      uuid        PRIMARY KEY,
    reservation_id uuid        NOT NULL,
    show_id        text        NOT NULL,
    tier           smallint    NOT NULL CHECK (tier >= 0),
    account_id     text        NOT NULL,
    price          bigint      NOT NULL CHECK (price >= 1),
    -- 'refunded': given back by its customer (`refund` per the refund
    -- rule) or refunded in full by the show's cancellation.
    status         text        NOT NULL CHECK (status IN ('issued', 'refunded')),
    refund         bigint      NOT NULL DEFAULT 0 CHECK (refund >= 0),
    issued_at      timestamptz NOT NULL,
    -- The position of the confirmation that issued it: its order.
    issued_position bigint     NOT NULL CHECK (issued_position >= 1),
    position       bigint      NOT NULL CHECK (position >= 1)
);

-- `Account.tickets(first, after)` pages an account's tickets newest first.
CREATE INDEX tickets_by_account ON tickets (account_id, issued_position DESC, ticket_id DESC);
