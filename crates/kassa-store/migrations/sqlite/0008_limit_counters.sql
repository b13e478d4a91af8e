-- Abuse limits (docs/api.md §8) that hold across instances sharing this database: one row per
-- limited thing (a client IP's failed sign-ins, a card's declines, …), holding the instant its
-- bucket is empty again (GCRA's theoretical arrival time, µs since the epoch). Keys are keyed
-- digests, never an email or an address in the clear.
CREATE TABLE limit_counters (
    limit_key TEXT PRIMARY KEY,
    tat INTEGER NOT NULL
);
CREATE INDEX limit_counters_tat ON limit_counters (tat);

-- Failed sign-ins are counted in limit_counters now. login_failures is left in place (unused
-- from this version on) so that instances of the previous version, still running during a
-- rolling upgrade of a shared PostgreSQL database, keep working; a later migration drops it.
