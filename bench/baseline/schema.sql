-- The baseline: the "seed-003" design, one PL/pgSQL function per operation
-- that locks the account row (SELECT ... FOR UPDATE), checks the limit,
-- updates the balance and inserts the transaction row, one transaction per
-- request. `bench baseline init` loads this file into a database of its own
-- (betledger_baseline by default); pgbench drives the functions through the
-- scripts beside it.
--
-- It does less than betledger on purpose, so that the comparison errs in the
-- baseline's favour: no idempotency record, no hash chain, no JSON, no
-- separate read model. Rejections are return values, not exceptions, as a
-- 422 is not a failure: pgbench counts a raised error as a failed
-- transaction.

CREATE TABLE accounts (
    id           text   PRIMARY KEY,
    currency     text   NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    credit_limit bigint NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    balance      bigint NOT NULL DEFAULT 0,
    -- Money reserved by pending holds.
    pending      bigint NOT NULL DEFAULT 0 CHECK (pending >= 0)
);

CREATE TABLE holds (
    id         bigserial   PRIMARY KEY,
    account_id text        NOT NULL REFERENCES accounts,
    amount     bigint      NOT NULL CHECK (amount > 0),
    status     text        NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'posted', 'voided')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE transactions (
    id          bigserial   PRIMARY KEY,
    account_id  text        NOT NULL REFERENCES accounts,
    kind        text        NOT NULL,
    amount      bigint      NOT NULL CHECK (amount <> 0),
    description text,
    hold_id     bigint      REFERENCES holds,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- An account's statement, newest first (what Rinha's extrato reads).
CREATE INDEX transactions_account ON transactions (account_id, id);

CREATE FUNCTION bl_deposit(p_account text, p_amount bigint, p_description text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_account accounts%ROWTYPE;
BEGIN
    IF p_amount <= 0 THEN
        RETURN 'invalid_amount';
    END IF;
    SELECT * INTO v_account FROM accounts WHERE id = p_account FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'account_not_found';
    END IF;
    UPDATE accounts SET balance = balance + p_amount WHERE id = p_account;
    INSERT INTO transactions (account_id, kind, amount, description)
    VALUES (p_account, 'deposit', p_amount, p_description);
    RETURN 'ok';
END
$$;

CREATE FUNCTION bl_withdraw(p_account text, p_amount bigint, p_description text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_account accounts%ROWTYPE;
BEGIN
    IF p_amount <= 0 THEN
        RETURN 'invalid_amount';
    END IF;
    SELECT * INTO v_account FROM accounts WHERE id = p_account FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'account_not_found';
    END IF;
    -- The limit rule: balance - pending - amount >= -credit_limit.
    IF v_account.balance - v_account.pending - p_amount < -v_account.credit_limit THEN
        RETURN 'insufficient_funds';
    END IF;
    UPDATE accounts SET balance = balance - p_amount WHERE id = p_account;
    INSERT INTO transactions (account_id, kind, amount, description)
    VALUES (p_account, 'withdrawal', -p_amount, p_description);
    RETURN 'ok';
END
$$;

-- Returns the new hold's id, or 0 when the hold is refused.
CREATE FUNCTION bl_place_hold(p_account text, p_amount bigint, p_description text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_account accounts%ROWTYPE;
    v_hold    bigint;
BEGIN
    IF p_amount <= 0 THEN
        RETURN 0;
    END IF;
    SELECT * INTO v_account FROM accounts WHERE id = p_account FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    IF v_account.balance - v_account.pending - p_amount < -v_account.credit_limit THEN
        RETURN 0;
    END IF;
    UPDATE accounts SET pending = pending + p_amount WHERE id = p_account;
    INSERT INTO holds (account_id, amount) VALUES (p_account, p_amount)
    RETURNING id INTO v_hold;
    INSERT INTO transactions (account_id, kind, amount, description, hold_id)
    VALUES (p_account, 'hold', -p_amount, p_description, v_hold);
    RETURN v_hold;
END
$$;

-- Posts (p_post) or voids a pending hold. Locks the account first, then the
-- hold, the same order as bl_place_hold, so two requests never deadlock.
CREATE FUNCTION bl_resolve_hold(p_hold bigint, p_post boolean)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_account_id text;
    v_hold       holds%ROWTYPE;
BEGIN
    SELECT account_id INTO v_account_id FROM holds WHERE id = p_hold;
    IF NOT FOUND THEN
        RETURN 'hold_not_found';
    END IF;
    PERFORM 1 FROM accounts WHERE id = v_account_id FOR UPDATE;
    SELECT * INTO v_hold FROM holds WHERE id = p_hold FOR UPDATE;
    IF v_hold.status <> 'pending' THEN
        RETURN 'hold_already_resolved';
    END IF;
    IF p_post THEN
        UPDATE holds SET status = 'posted' WHERE id = p_hold;
        UPDATE accounts
        SET pending = pending - v_hold.amount, balance = balance - v_hold.amount
        WHERE id = v_account_id;
        INSERT INTO transactions (account_id, kind, amount, hold_id)
        VALUES (v_account_id, 'hold_posted', -v_hold.amount, p_hold);
    ELSE
        UPDATE holds SET status = 'voided' WHERE id = p_hold;
        UPDATE accounts SET pending = pending - v_hold.amount WHERE id = v_account_id;
        INSERT INTO transactions (account_id, kind, amount, hold_id)
        VALUES (v_account_id, 'hold_voided', v_hold.amount, p_hold);
    END IF;
    RETURN 'ok';
END
$$;

-- Opens `p_count` accounts acc-1 .. acc-N, each with one deposit of
-- `p_deposit`: the same starting point as the betledger run's setup.
CREATE FUNCTION bl_seed(p_count integer, p_deposit bigint)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO accounts (id, currency, balance)
    SELECT 'acc-' || g, 'EUR', p_deposit FROM generate_series(1, p_count) AS g;
    INSERT INTO transactions (account_id, kind, amount, description)
    SELECT 'acc-' || g, 'deposit', p_deposit, 'seed' FROM generate_series(1, p_count) AS g;
$$;
