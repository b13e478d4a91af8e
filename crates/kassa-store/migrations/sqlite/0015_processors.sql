-- Real processors (docs/api.md §10) (sqlite).
--
-- Each partner pays through one connector (`partners.processor`, sandbox by default), with its
-- account at each connector it has used kept in `processor_accounts`: the address and login in
-- clear, the secret keys sealed with the vault key as one JSON object (`SealedKind::ProcessorCredentials`).
-- A switch keeps the old account, so the payments made through it can still be captured,
-- refunded and looked up there.
ALTER TABLE partners ADD COLUMN processor TEXT NOT NULL DEFAULT 'sandbox';

CREATE TABLE processor_accounts (
    -- '{partner id}/{connector}'; what the sealed credentials are bound to.
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners(id),
    connector TEXT NOT NULL,
    api_base TEXT NOT NULL,
    login_id TEXT,
    credentials_nonce BLOB NOT NULL,
    credentials_ciphertext BLOB NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (partner_id, connector)
);

-- Which processor each payment, hold and refund went to when its intent was recorded, and the
-- processor's own id once it answered. Rows made before this version went to the sandbox.
ALTER TABLE payments ADD COLUMN processor TEXT NOT NULL DEFAULT 'sandbox';
ALTER TABLE payments ADD COLUMN processor_reference TEXT;
ALTER TABLE authorizations ADD COLUMN processor TEXT NOT NULL DEFAULT 'sandbox';
ALTER TABLE authorizations ADD COLUMN processor_reference TEXT;
ALTER TABLE refunds ADD COLUMN processor TEXT NOT NULL DEFAULT 'sandbox';
ALTER TABLE refunds ADD COLUMN processor_reference TEXT;
CREATE INDEX payments_by_processor_reference ON payments (partner_id, processor_reference);
CREATE INDEX authorizations_by_processor_reference ON authorizations (partner_id, processor_reference);
CREATE INDEX refunds_by_processor_reference ON refunds (partner_id, processor_reference);

-- When Kassa last asked a processor that reports bank debits only when asked (Authorize.net)
-- what became of this pending debit.
ALTER TABLE payments ADD COLUMN debit_checked_at BIGINT;

-- The payer's authorization of a bank debit taken on the pay page.
ALTER TABLE payments ADD COLUMN ach_accepted_at BIGINT;
ALTER TABLE payments ADD COLUMN ach_ip TEXT;
ALTER TABLE payments ADD COLUMN ach_user_agent TEXT;
ALTER TABLE payments ADD COLUMN ach_text_version TEXT;

-- Processor notifications applied, by the processor's event id: each is applied once.
CREATE TABLE processor_events (
    partner_id TEXT NOT NULL REFERENCES partners(id),
    connector TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (partner_id, connector, event_id)
);
