//! Durable jobs: enqueued in the transaction that needs them, leased to one worker at a time.

use async_trait::async_trait;
use kassa_core::clock::to_micros;
use kassa_core::id::JobId;
use time::OffsetDateTime;

use crate::columns::*;
use crate::db::{query, Backend, Batch, Conn, WriteTx as _};
use crate::model::*;
use crate::Result;

#[async_trait]
pub trait JobStore {
    async fn enqueue_job(&self, job: &NewJob, now: OffsetDateTime) -> Result<()>;
    /// Enqueues the job unless one with the same `key` was ever enqueued; whether it was added.
    async fn enqueue_job_once(&self, job: &NewJob, key: &str, now: OffsetDateTime) -> Result<bool>;
    /// Leases up to `limit` due jobs to `worker` until `lease_until`; no two workers get the same job.
    async fn claim_jobs(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<Job>>;
    async fn complete_job(&self, id: &JobId, now: OffsetDateTime) -> Result<()>;
    async fn retry_job(&self, id: &JobId, run_at: OffsetDateTime, error: &str) -> Result<()>;
}

#[async_trait]
impl<B: Backend> JobStore for B {
    async fn enqueue_job(&self, job: &NewJob, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_job(&mut tx, job, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn enqueue_job_once(&self, job: &NewJob, key: &str, now: OffsetDateTime) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let res = query(
            "INSERT INTO jobs (id, kind, payload, run_at, created_at, dedupe_key) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(JobId::generate().as_str())
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(to_micros(job.run_at))
        .bind(to_micros(now))
        .bind(key)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(res.rows_affected() == 1)
    }

    async fn claim_jobs(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<Job>> {
        let mut tx = self.begin_write().await?;
        let rows = query(format!(
            "UPDATE jobs SET locked_by = $1, locked_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jobs WHERE done_at IS NULL AND run_at <= $3 \
             AND (locked_until IS NULL OR locked_until < $3) ORDER BY run_at, seq LIMIT $4{}) \
             RETURNING id, kind, payload, attempts",
            B::SKIP_LOCKED
        ))
        .bind(worker)
        .bind(to_micros(lease_until))
        .bind(to_micros(now))
        .bind(limit)
        .fetch_all(&mut tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                let payload: String = row.try_get("payload")?;
                Ok(Job {
                    id: JobId::from_trusted(row.try_get("id")?),
                    kind: row.try_get("kind")?,
                    payload: serde_json::from_str(&payload).map_err(|_| bad("job payload"))?,
                    attempts: row.try_get("attempts")?,
                })
            })
            .collect()
    }

    async fn complete_job(&self, id: &JobId, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.begin_write().await?;
        query("UPDATE jobs SET done_at = $2, locked_by = NULL, locked_until = NULL WHERE id = $1")
            .bind(id.as_str())
            .bind(to_micros(now))
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn retry_job(&self, id: &JobId, run_at: OffsetDateTime, error: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        query("UPDATE jobs SET run_at = $2, last_error = $3, locked_by = NULL, locked_until = NULL WHERE id = $1")
            .bind(id.as_str())
            .bind(to_micros(run_at))
            .bind(error)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

pub(crate) async fn insert_job(tx: &mut dyn Conn, job: &NewJob, now: OffsetDateTime) -> Result<()> {
    let mut batch = Batch::new();
    push_job(&mut batch, job, now);
    batch.execute(tx).await
}

pub(crate) fn push_job(batch: &mut Batch, job: &NewJob, now: OffsetDateTime) {
    batch
        .push(
            "INSERT INTO jobs (id, kind, payload, run_at, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(JobId::generate().as_str().to_string())
        .bind(job.kind.clone())
        .bind(job.payload.to_string())
        .bind(to_micros(job.run_at))
        .bind(to_micros(now));
}
