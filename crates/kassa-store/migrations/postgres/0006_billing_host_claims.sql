-- A billing host stays with the first partner that claimed it, also after that partner moves to
-- another host: links and invoices printed with it must never start paying someone else.
CREATE TABLE billing_host_claims (
    host       TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id)
);
INSERT INTO billing_host_claims (host, partner_id)
    SELECT billing_host, id FROM partners WHERE billing_host IS NOT NULL;
