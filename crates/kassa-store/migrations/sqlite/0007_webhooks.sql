-- Webhooks: the endpoints partners register, one delivery per (endpoint, event), and every
-- attempt made. Events are turned into deliveries by a sweep (the outbox): an event is
-- "dispatched" in the transaction that makes its deliveries and their jobs, so an event written
-- by any code path is delivered even after a crash.

ALTER TABLE events ADD COLUMN dispatched_at INTEGER;
-- Events from before webhooks existed have no endpoint to go to.
UPDATE events SET dispatched_at = created_at;
CREATE INDEX events_undispatched ON events (seq) WHERE dispatched_at IS NULL;

CREATE TABLE webhook_endpoints (
    seq                        INTEGER PRIMARY KEY,
    id                         TEXT NOT NULL UNIQUE,
    partner_id                 TEXT NOT NULL REFERENCES partners (id),
    url                        TEXT NOT NULL,
    description                TEXT,
    -- A JSON array of event types, or ["*"].
    events                     TEXT NOT NULL,
    -- The signing secret, sealed with the vault key (AES-256-GCM); the previous one signs too
    -- until previous_secret_expires_at.
    secret_nonce               BLOB NOT NULL,
    secret_ciphertext          BLOB NOT NULL,
    previous_secret_nonce      BLOB,
    previous_secret_ciphertext BLOB,
    previous_secret_expires_at INTEGER,
    status                     TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    disabled_reason            TEXT,
    disabled_at                INTEGER,
    -- The first failed attempt since the last success.
    failing_since              INTEGER,
    -- Deliveries failed for good since the last success.
    failed_deliveries          INTEGER NOT NULL DEFAULT 0,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL,
    deleted_at                 INTEGER
);
CREATE INDEX webhook_endpoints_partner_seq ON webhook_endpoints (partner_id, seq);

CREATE TABLE webhook_deliveries (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    partner_id       TEXT NOT NULL REFERENCES partners (id),
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id),
    event_id         TEXT NOT NULL REFERENCES events (id),
    event_type       TEXT NOT NULL,
    -- The durable job that makes the attempts (leased, so one instance makes each).
    job_id           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'canceled')),
    attempt_count    INTEGER NOT NULL DEFAULT 0,
    first_attempt_at INTEGER,
    next_attempt_at  INTEGER,
    created_at       INTEGER NOT NULL,
    completed_at     INTEGER,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_endpoint_seq ON webhook_deliveries (endpoint_id, seq);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    seq          INTEGER PRIMARY KEY,
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries (id),
    attempted_at INTEGER NOT NULL,
    -- The HTTP status, or NULL when there was no answer (then `error` says why).
    status_code  INTEGER,
    error        TEXT,
    latency_ms   INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, seq);
