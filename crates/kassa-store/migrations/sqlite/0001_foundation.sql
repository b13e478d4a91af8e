-- Kassa foundation schema (SQLite). Timestamps are Unix microseconds (UTC); amounts are integer
-- minor units. `seq` orders rows newest-first for keyset pagination; `id` is the public id.

-- One row: a keyed hash of the vault key this database was first used with, so an instance
-- started with another key refuses to run instead of writing data no one can read together.
CREATE TABLE installation (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    vault_key_check TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE TABLE partners (
    seq                  INTEGER PRIMARY KEY,
    id                   TEXT NOT NULL UNIQUE,
    slug                 TEXT NOT NULL UNIQUE,
    name                 TEXT NOT NULL,
    billing_host         TEXT UNIQUE,
    brand_color          TEXT NOT NULL,
    logo_url             TEXT,
    default_redirect_url TEXT,
    require_signed_links INTEGER NOT NULL DEFAULT 0,
    link_secret          TEXT NOT NULL,
    created_at           INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    partner_id   TEXT NOT NULL REFERENCES partners (id),
    label        TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX api_keys_partner ON api_keys (partner_id);

CREATE TABLE payment_requests (
    seq                INTEGER PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    partner_id         TEXT NOT NULL REFERENCES partners (id),
    reference_id       TEXT NOT NULL,
    amount             INTEGER NOT NULL CHECK (amount > 0),
    currency           TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('open', 'processing', 'completed', 'canceled', 'expired')),
    url                TEXT NOT NULL,
    redirect_url       TEXT,
    description        TEXT,
    payer_email        TEXT,
    metadata           TEXT NOT NULL DEFAULT '{}',
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    completed_at       INTEGER,
    canceled_at        INTEGER,
    expires_at         INTEGER,
    payment_id         TEXT,
    attempt_payment_id TEXT,
    attempt_count      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (partner_id, reference_id)
);
CREATE INDEX payment_requests_partner_seq ON payment_requests (partner_id, seq);

CREATE TABLE vault_entries (
    id         TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    nonce      BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE payment_methods (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    partner_id     TEXT NOT NULL REFERENCES partners (id),
    customer_id    TEXT,
    method_type    TEXT NOT NULL,
    holder_name    TEXT,
    brand          TEXT,
    last4          TEXT NOT NULL,
    exp_month      INTEGER,
    exp_year       INTEGER,
    routing_number TEXT,
    account_type   TEXT,
    postal_code    TEXT,
    fingerprint    TEXT NOT NULL,
    vault_entry_id TEXT REFERENCES vault_entries (id),
    created_at     INTEGER NOT NULL,
    deleted_at     INTEGER
);
CREATE INDEX payment_methods_partner_seq ON payment_methods (partner_id, seq);

CREATE TABLE payments (
    seq                INTEGER PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    partner_id         TEXT NOT NULL REFERENCES partners (id),
    source             TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'partially_refunded', 'refunded')),
    amount             INTEGER NOT NULL CHECK (amount >= 0),
    currency           TEXT NOT NULL,
    captured_amount    INTEGER NOT NULL DEFAULT 0,
    refunded_amount    INTEGER NOT NULL DEFAULT 0,
    customer_id        TEXT,
    payment_method_id  TEXT REFERENCES payment_methods (id),
    authorization_id   TEXT,
    payment_request_id TEXT REFERENCES payment_requests (id),
    reference_id       TEXT,
    method_type        TEXT NOT NULL,
    brand              TEXT,
    funding            TEXT,
    last4              TEXT,
    exp_month          INTEGER,
    exp_year           INTEGER,
    routing_number     TEXT,
    account_type       TEXT,
    failure_code       TEXT,
    failure_message    TEXT,
    created_at         INTEGER NOT NULL,
    completed_at       INTEGER
);
CREATE INDEX payments_partner_seq ON payments (partner_id, seq);
CREATE INDEX payments_request ON payments (payment_request_id);
-- The database's own guard for "one attempt in flight, never paid twice": a request has at most
-- one payment that is pending or completed.
CREATE UNIQUE INDEX payments_one_live_per_request ON payments (payment_request_id)
    WHERE status IN ('pending', 'completed');

CREATE TABLE events (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX events_partner_seq ON events (partner_id, seq);

CREATE TABLE jobs (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    run_at       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    locked_by    TEXT,
    locked_until INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    done_at      INTEGER
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE done_at IS NULL;

CREATE TABLE idempotency_keys (
    partner_id      TEXT NOT NULL REFERENCES partners (id),
    idem_key        TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
    response_status INTEGER,
    response_body   TEXT,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (partner_id, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
