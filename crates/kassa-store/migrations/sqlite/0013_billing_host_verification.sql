-- A billing host serves a partner's pages only once the partner has proven it holds it: a DNS
-- TXT record `_kassa.<host>` = `kassa-verification=<token>` (docs/api.md §9), or the operator's
-- `kassa partner verify-host`. Status and token are NULL exactly when there is no billing host;
-- a new host gets a new token and starts over as pending.
ALTER TABLE partners ADD COLUMN billing_host_status TEXT
    CHECK (billing_host_status IN ('pending_verification', 'verified'));
ALTER TABLE partners ADD COLUMN billing_host_token TEXT;
-- Hosts set before verification existed were never proven: they start pending, each with a
-- random token of its own, and serve nothing until verified (README: "Billing hosts").
UPDATE partners SET billing_host_status = 'pending_verification',
    billing_host_token = lower(hex(randomblob(16)))
    WHERE billing_host IS NOT NULL;
