-- Money movement (PostgreSQL): fees per partner, the double-entry ledger, refunds and payouts.

ALTER TABLE partners ADD COLUMN fee_card_percent_e4 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE partners ADD COLUMN fee_card_fixed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE partners ADD COLUMN fee_ach_percent_e4 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE partners ADD COLUMN fee_ach_cap BIGINT;

-- Append-only: each money event writes one balanced set of entries (Σ amount = 0 per set_id) in
-- the transaction of the change that causes it. Balances are sums over it.
CREATE TABLE ledger_entries (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    set_id     TEXT NOT NULL,
    account    TEXT NOT NULL CHECK (account IN ('processor_clearing', 'partner_pending', 'partner_available', 'partner_paid_out', 'fees')),
    kind       TEXT NOT NULL,
    source_id  TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    currency   TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ledger_entries_partner_account ON ledger_entries (partner_id, account, created_at);
CREATE INDEX ledger_entries_account_time ON ledger_entries (account, created_at);
CREATE INDEX ledger_entries_set ON ledger_entries (set_id);
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only';
END;
$$;
CREATE TRIGGER ledger_entries_no_change BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();

CREATE TABLE refunds (
    seq                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    partner_id         TEXT NOT NULL REFERENCES partners (id),
    payment_id         TEXT NOT NULL REFERENCES payments (id),
    amount             BIGINT NOT NULL CHECK (amount > 0),
    currency           TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    reason             TEXT,
    failure_code       TEXT,
    failure_message    TEXT,
    awaiting_processor BOOLEAN NOT NULL DEFAULT FALSE,
    idempotency_key    TEXT,
    payout_id          TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX refunds_partner_seq ON refunds (partner_id, seq);
CREATE INDEX refunds_payment ON refunds (payment_id);
CREATE INDEX refunds_awaiting ON refunds (created_at) WHERE awaiting_processor;
CREATE UNIQUE INDEX refunds_idempotency ON refunds (partner_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- The database's own guard for "never refund more than was captured".
CREATE FUNCTION payments_refund_bounded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.refunded_amount < 0 OR NEW.refunded_amount > NEW.captured_amount THEN
        RAISE EXCEPTION 'refunds exceed the captured amount';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER payments_refund_bounded BEFORE UPDATE OF refunded_amount ON payments
    FOR EACH ROW EXECUTE FUNCTION payments_refund_bounded();

-- A batch per partner: `paid` moved money; `carried_forward` had a net ≤ 0 and moved none, and
-- its amount is carried into the next batch (`carried_into`).
CREATE TABLE payouts (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    partner_id   TEXT NOT NULL REFERENCES partners (id),
    status       TEXT NOT NULL CHECK (status IN ('paid', 'carried_forward')),
    amount       BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    cutoff_at    BIGINT NOT NULL,
    carried_into TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX payouts_partner_seq ON payouts (partner_id, seq);

-- What a payout is made of. A ledger entry, or a carried balance, belongs to one payout only.
CREATE TABLE payout_items (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payout_id         TEXT NOT NULL REFERENCES payouts (id),
    item_type         TEXT NOT NULL CHECK (item_type IN ('payment', 'refund', 'fee', 'carried_balance')),
    source_id         TEXT NOT NULL,
    amount            BIGINT NOT NULL,
    ledger_entry_id   TEXT UNIQUE REFERENCES ledger_entries (id),
    carried_payout_id TEXT UNIQUE REFERENCES payouts (id)
);
CREATE INDEX payout_items_payout ON payout_items (payout_id, seq);

-- A job that must exist once (the next payout batch), however many instances schedule it.
ALTER TABLE jobs ADD COLUMN dedupe_key TEXT;
CREATE UNIQUE INDEX jobs_dedupe_key ON jobs (dedupe_key);

-- Payments made before the ledger existed: what was captured is the partner's to be paid out,
-- and an ACH debit still pending is pending. (No fees or refunds existed yet.)
INSERT INTO ledger_entries (id, partner_id, set_id, account, kind, source_id, amount, currency, created_at)
    SELECT 'le_0003c' || id, partner_id, 'le_0003s' || id, 'processor_clearing', 'payment', id,
           -captured_amount, currency, COALESCE(completed_at, created_at)
    FROM payments WHERE status IN ('completed', 'partially_refunded', 'refunded') AND captured_amount > 0;
INSERT INTO ledger_entries (id, partner_id, set_id, account, kind, source_id, amount, currency, created_at)
    SELECT 'le_0003a' || id, partner_id, 'le_0003s' || id, 'partner_available', 'payment', id,
           captured_amount, currency, COALESCE(completed_at, created_at)
    FROM payments WHERE status IN ('completed', 'partially_refunded', 'refunded') AND captured_amount > 0;
INSERT INTO ledger_entries (id, partner_id, set_id, account, kind, source_id, amount, currency, created_at)
    SELECT 'le_0003c' || id, partner_id, 'le_0003s' || id, 'processor_clearing', 'ach_pending', id,
           -amount, currency, created_at
    FROM payments WHERE status = 'pending' AND method_type = 'ach' AND NOT awaiting_processor;
INSERT INTO ledger_entries (id, partner_id, set_id, account, kind, source_id, amount, currency, created_at)
    SELECT 'le_0003p' || id, partner_id, 'le_0003s' || id, 'partner_pending', 'ach_pending', id,
           amount, currency, created_at
    FROM payments WHERE status = 'pending' AND method_type = 'ach' AND NOT awaiting_processor;
