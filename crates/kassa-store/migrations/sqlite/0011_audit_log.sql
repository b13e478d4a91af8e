-- Access control and the audit log (docs/api.md §9).

-- What each API key may do. Keys made before scopes existed could do everything; they keep it,
-- so no integration breaks on upgrade (the README says how to replace them with narrower keys).
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'read,payments,refunds,webhooks,settings,admin';

-- Who made each refund (an API key, a dashboard user, …); NULL for refunds made before.
ALTER TABLE refunds ADD COLUMN created_by_type TEXT;
ALTER TABLE refunds ADD COLUMN created_by_id TEXT;
ALTER TABLE refunds ADD COLUMN created_by_name TEXT;

-- One chain of events per partner ('' is the installation's own chain): `seq` runs 1, 2, 3, …
-- and each row carries the hash of the one before (kassa_core::audit::chain_hash).
CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    chain       TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    action      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    object_id   TEXT,
    ip          TEXT,
    user_agent  TEXT,
    details     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    UNIQUE (chain, seq)
);
CREATE INDEX audit_events_object ON audit_events (chain, object_id, seq);
CREATE INDEX audit_events_actor ON audit_events (chain, actor_id, seq);
CREATE INDEX audit_events_action ON audit_events (chain, action, seq);

-- Append-only: the database itself refuses to change or remove an event.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

-- Each chain's newest event: appending takes this row's lock, so a chain never forks, and it
-- shows when the newest events were removed behind the database's back.
CREATE TABLE audit_heads (
    chain TEXT PRIMARY KEY,
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
