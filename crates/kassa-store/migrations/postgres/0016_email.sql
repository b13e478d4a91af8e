-- Email, and what the payer sees (docs/api.md §11) (postgres).
--
-- The partner's settings for payers and for itself (docs/api.md §11): how payers reach it and
-- read its policies, where Kassa tells it what happened, and the time zone its people read
-- times in (IANA name; stored as the database spells it).
ALTER TABLE partners ADD COLUMN support_email TEXT;
ALTER TABLE partners ADD COLUMN support_phone TEXT;
ALTER TABLE partners ADD COLUMN support_url TEXT;
ALTER TABLE partners ADD COLUMN terms_url TEXT;
ALTER TABLE partners ADD COLUMN privacy_url TEXT;
ALTER TABLE partners ADD COLUMN notification_email TEXT;
ALTER TABLE partners ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';

-- Who paid: the name on the card or account, and the email the receipt goes to. Payments made
-- on a pay page before this version take the name on their method and their request's email.
ALTER TABLE payments ADD COLUMN payer_name TEXT;
ALTER TABLE payments ADD COLUMN payer_email TEXT;
UPDATE payments SET payer_name = (SELECT holder_name FROM payment_methods m WHERE m.id = payments.payment_method_id);
UPDATE payments SET payer_email = (SELECT payer_email FROM payment_requests r WHERE r.id = payments.payment_request_id)
    WHERE payment_request_id IS NOT NULL;

-- Every email Kassa sends: what it is about, to whom, and how sending went. Each is sent by its
-- job (`jobs.kind = 'email'`), so it survives restarts and is retried; an automatic one carries
-- a `dedupe_key` so the event that causes it makes it once.
CREATE TABLE emails (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    partner_id TEXT NOT NULL REFERENCES partners(id),
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    payment_id TEXT,
    payment_request_id TEXT,
    webhook_endpoint_id TEXT,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    dedupe_key TEXT UNIQUE,
    job_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX emails_by_payment ON emails (partner_id, payment_id);
CREATE INDEX emails_by_payment_request ON emails (partner_id, payment_request_id);
