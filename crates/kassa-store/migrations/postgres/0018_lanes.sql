-- Background work in lanes (docs/api.md §12): each lane claims its own kinds of job, so the
-- claim looks jobs up by kind; the webhook lane skips endpoints it has enough deliveries in
-- flight to, so it finds a job's delivery by its job.
CREATE INDEX jobs_kind_due ON jobs (kind, run_at) WHERE done_at IS NULL;
CREATE INDEX webhook_deliveries_job ON webhook_deliveries (job_id);

-- Settings every instance sharing this database must agree on (the payout cut-off, …): the
-- first instance to start writes its configured value, and the rest check theirs against it.
CREATE TABLE shared_settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
