//! What the job queue holds, by kind, for `/metrics` (`kassa_jobs_queued`,
//! `kassa_jobs_oldest_age_seconds`): one grouped read at scrape time, on the `jobs_due` partial
//! index (jobs not done), so a scrape costs what the queue holds and not the table's history.

use async_trait::async_trait;
use kassa_core::clock::to_micros;
use time::{Duration, OffsetDateTime};

use crate::db::{query, Backend};
use crate::Result;

/// The jobs of one kind not done yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedJobs {
    pub kind: String,
    /// Not done: due, leased, or waiting for a later time (a retry, a settlement).
    pub queued: i64,
    /// How long the longest-waiting due job has been due; zero when none is due yet.
    pub oldest_due_for: Duration,
}

#[async_trait]
pub trait JobStatsStore {
    /// The queue by kind, as of `now`; kinds with nothing queued are left out.
    async fn queued_jobs(&self, now: OffsetDateTime) -> Result<Vec<QueuedJobs>>;
}

#[async_trait]
impl<B: Backend> JobStatsStore for B {
    async fn queued_jobs(&self, now: OffsetDateTime) -> Result<Vec<QueuedJobs>> {
        let rows = query(
            "SELECT kind, COUNT(*) AS queued, MIN(run_at) AS first_run_at FROM jobs \
             WHERE done_at IS NULL GROUP BY kind ORDER BY kind",
        )
        .fetch_all(&mut self.reader())
        .await?;
        let now = to_micros(now);
        rows.iter()
            .map(|row| {
                let first: i64 = row.try_get("first_run_at")?;
                Ok(QueuedJobs {
                    kind: row.try_get("kind")?,
                    queued: row.try_get("queued")?,
                    oldest_due_for: Duration::microseconds(now.saturating_sub(first).max(0)),
                })
            })
            .collect()
    }
}
