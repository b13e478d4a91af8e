-- The one-time payment API (PostgreSQL): customers, stored payment methods, authorizations, per-partner
-- tax rates, and the invoice and dynamic descriptor of a payment. An invoice is an immutable
-- document priced once, so it is kept as JSON on the payment or authorization it belongs to.

CREATE TABLE customers (
    seq                      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                       TEXT NOT NULL UNIQUE,
    partner_id               TEXT NOT NULL REFERENCES partners (id),
    first_name               TEXT NOT NULL,
    last_name                TEXT NOT NULL,
    email                    TEXT,
    merchant_customer_ref_id TEXT,
    entity_use_code          TEXT,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL
);
CREATE INDEX customers_partner_seq ON customers (partner_id, seq);
CREATE INDEX customers_partner_ref ON customers (partner_id, merchant_customer_ref_id);

ALTER TABLE payment_methods ADD COLUMN billing_first_name TEXT;
ALTER TABLE payment_methods ADD COLUMN billing_last_name TEXT;
ALTER TABLE payment_methods ADD COLUMN billing_address TEXT;
ALTER TABLE payment_methods ADD COLUMN merchant_payment_method_ref_id TEXT;
CREATE INDEX payment_methods_customer ON payment_methods (partner_id, customer_id);

CREATE TABLE tax_rates (
    partner_id TEXT NOT NULL REFERENCES partners (id),
    code       TEXT NOT NULL,
    -- Percent in ten-thousandths: 8.25 % is 82500.
    rate_e4    BIGINT NOT NULL CHECK (rate_e4 BETWEEN 0 AND 1000000),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (partner_id, code)
);

CREATE TABLE authorizations (
    seq                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    partner_id         TEXT NOT NULL REFERENCES partners (id),
    -- 'pending' only while the processor is being asked.
    status             TEXT NOT NULL CHECK (status IN ('pending', 'authorized', 'failed', 'captured', 'reversed')),
    amount             BIGINT NOT NULL CHECK (amount > 0),
    currency           TEXT NOT NULL,
    captured_amount    BIGINT NOT NULL DEFAULT 0 CHECK (captured_amount >= 0 AND captured_amount <= amount),
    customer_id        TEXT REFERENCES customers (id),
    payment_method_id  TEXT REFERENCES payment_methods (id),
    capture_payment_id TEXT,
    method_type        TEXT NOT NULL,
    brand              TEXT,
    funding            TEXT,
    last4              TEXT,
    exp_month          INTEGER,
    exp_year           INTEGER,
    invoice_id         TEXT,
    invoice            TEXT,
    dynamic_descriptor TEXT,
    failure_code       TEXT,
    failure_message    TEXT,
    idempotency_key    TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    captured_at        BIGINT,
    reversed_at        BIGINT
);
CREATE INDEX authorizations_partner_seq ON authorizations (partner_id, seq);
CREATE INDEX authorizations_pending ON authorizations (created_at) WHERE status = 'pending';
-- A request retried under its Idempotency-Key finds what the first one made, even after a crash.
CREATE UNIQUE INDEX authorizations_idempotency ON authorizations (partner_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

ALTER TABLE payments ADD COLUMN invoice_id TEXT;
ALTER TABLE payments ADD COLUMN invoice TEXT;
ALTER TABLE payments ADD COLUMN dynamic_descriptor TEXT;
ALTER TABLE payments ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX payments_idempotency ON payments (partner_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Set while the processor is being asked; an old row still set lost its answer (see recovery).
ALTER TABLE payments ADD COLUMN awaiting_processor BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE payments SET awaiting_processor = TRUE
    WHERE status = 'pending' AND id IN (SELECT attempt_payment_id FROM payment_requests WHERE attempt_payment_id IS NOT NULL);
CREATE INDEX payments_awaiting ON payments (created_at) WHERE awaiting_processor;
CREATE INDEX payments_partner_customer ON payments (partner_id, customer_id, seq);
-- An authorization is captured once: by the capture endpoint or by a sale that names it. A
-- capture the processor refused fails and frees the authorization for another try.
CREATE UNIQUE INDEX payments_one_per_authorization ON payments (authorization_id)
    WHERE authorization_id IS NOT NULL AND status <> 'failed';
