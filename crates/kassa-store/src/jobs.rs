//! Durable jobs: enqueued in the transaction that needs them, leased to one worker at a time.
//!
//! Two clocks meet here. When a job is due (`run_at`) is business time, from the application's
//! clock (tests freeze and move it). Leases are the database's time ([`Backend::NOW_MICROS`]):
//! taken, renewed and compared by the one clock every instance shares, so an instance whose clock
//! runs ahead cannot take a job whose lease is still running. A job is finished (completed, made
//! due again, released) only by the worker that holds it; anyone else gets
//! [`StoreError::LeaseLost`](crate::StoreError::LeaseLost) and changes nothing.

use async_trait::async_trait;
use kassa_core::clock::to_micros;
use kassa_core::id::JobId;
use time::{Duration, OffsetDateTime};

use crate::columns::*;
use crate::db::{query, Backend, Batch, Conn, Row, WriteTx as _};
use crate::model::*;
use crate::{Result, StoreError};

/// What a lane asks for when it claims work.
#[derive(Debug, Clone)]
pub struct Claim<'a> {
    /// Names the worker (one per process); the lease is held under it.
    pub worker: &'a str,
    /// Only jobs of these kinds (`JobKind::as_str`); empty: any kind.
    pub kinds: &'a [&'a str],
    /// Business time: jobs whose `run_at` is at or before it are due.
    pub now: OffsetDateTime,
    /// How long the lease runs, from the database's clock.
    pub lease: Duration,
    pub limit: i64,
}

/// A claimed webhook delivery job and the endpoint it goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryJob {
    pub job: Job,
    pub endpoint_id: String,
}

#[async_trait]
pub trait JobStore {
    async fn enqueue_job(&self, job: &NewJob, now: OffsetDateTime) -> Result<()>;
    /// Enqueues the job unless one with the same `key` was ever enqueued; whether it was added.
    async fn enqueue_job_once(&self, job: &NewJob, key: &str, now: OffsetDateTime) -> Result<bool>;
    /// Leases up to `limit` due jobs of the claim's kinds to its worker; no two workers get the
    /// same job, and a job is due again to others only once its lease has run out.
    async fn claim_jobs(&self, claim: &Claim<'_>) -> Result<Vec<Job>>;
    /// Like [`JobStore::claim_jobs`] for webhook deliveries, with each one's endpoint: an
    /// endpoint never has more than `per_endpoint` in flight, counting the ones this worker
    /// already runs (`in_flight`, by endpoint).
    async fn claim_delivery_jobs(
        &self,
        claim: &Claim<'_>,
        in_flight: &[(String, usize)],
        per_endpoint: usize,
    ) -> Result<Vec<DeliveryJob>>;
    /// Extends the leases `worker` still holds on `jobs` to `lease` from now (database time);
    /// how many it still held.
    async fn renew_leases(&self, worker: &str, jobs: &[JobId], lease: Duration) -> Result<u64>;
    /// Gives back jobs `worker` claimed and did not start, due as they were, so another worker
    /// can take them at once; how many it still held.
    async fn release_jobs(&self, worker: &str, jobs: &[JobId]) -> Result<u64>;
    /// Marks the job done, while `worker` holds its lease ([`StoreError::LeaseLost`] otherwise).
    async fn complete_job(&self, id: &JobId, worker: &str, now: OffsetDateTime) -> Result<()>;
    /// Makes the job due again at `run_at`, while `worker` holds its lease
    /// ([`StoreError::LeaseLost`] otherwise).
    async fn retry_job(
        &self,
        id: &JobId,
        worker: &str,
        run_at: OffsetDateTime,
        error: &str,
    ) -> Result<()>;
}

/// Statements carrying a list of ids take at most this many at a time.
const IDS_PER_STATEMENT: usize = 200;

/// `$from, $from+1, …` for `n` parameters.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `kind IN (…)` for the claim's kinds, its parameters from `$from`; empty for any kind.
fn kinds_clause(kinds: &[&str], from: usize, column: &str) -> String {
    if kinds.is_empty() {
        String::new()
    } else {
        format!(" AND {column} IN ({})", placeholders(from, kinds.len()))
    }
}

fn job_from_row(row: &Row) -> Result<Job> {
    let payload: String = row.try_get("payload")?;
    Ok(Job {
        id: JobId::from_trusted(row.try_get("id")?),
        kind: row.try_get("kind")?,
        payload: serde_json::from_str(&payload).map_err(|_| bad("job payload"))?,
        attempts: row.try_get("attempts")?,
    })
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

    async fn claim_jobs(&self, claim: &Claim<'_>) -> Result<Vec<Job>> {
        let now = B::NOW_MICROS;
        let mut tx = self.begin_write().await?;
        let mut q = query(format!(
            "UPDATE jobs SET locked_by = $1, locked_until = {now} + $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jobs WHERE done_at IS NULL AND run_at <= $3 \
             AND (locked_until IS NULL OR locked_until < {now}){} ORDER BY run_at, seq LIMIT $4{}) \
             RETURNING id, kind, payload, attempts",
            kinds_clause(claim.kinds, 5, "kind"),
            B::SKIP_LOCKED
        ))
        .bind(claim.worker)
        .bind(lease_micros(claim.lease))
        .bind(to_micros(claim.now))
        .bind(claim.limit);
        for kind in claim.kinds {
            q = q.bind(*kind);
        }
        let rows = q.fetch_all(&mut tx).await?;
        tx.commit().await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn claim_delivery_jobs(
        &self,
        claim: &Claim<'_>,
        in_flight: &[(String, usize)],
        per_endpoint: usize,
    ) -> Result<Vec<DeliveryJob>> {
        let now = B::NOW_MICROS;
        let per_endpoint = per_endpoint.max(1);
        // Endpoints with every slot taken are left out of the query; the others get only what
        // is left of theirs.
        let busy: Vec<&str> = in_flight
            .iter()
            .filter(|(_, n)| *n >= per_endpoint)
            .map(|(e, _)| e.as_str())
            .collect();
        let mut tx = self.begin_write().await?;
        // Candidates first (locked on PostgreSQL, so two instances take different ones), then
        // at most `per_endpoint` of them per endpoint are leased.
        let busy_clause = if busy.is_empty() {
            String::new()
        } else {
            format!(
                " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.job_id = j.id \
                 AND d.endpoint_id IN ({}))",
                placeholders(3 + claim.kinds.len(), busy.len())
            )
        };
        let mut q = query(format!(
            "SELECT j.id, (SELECT d.endpoint_id FROM webhook_deliveries d WHERE d.job_id = j.id) AS endpoint_id \
             FROM jobs j WHERE j.done_at IS NULL AND j.run_at <= $1 \
             AND (j.locked_until IS NULL OR j.locked_until < {now}){}{busy_clause} \
             ORDER BY j.run_at, j.seq LIMIT $2{}",
            kinds_clause(claim.kinds, 3, "j.kind"),
            B::SKIP_LOCKED
        ))
        .persistent(busy.is_empty())
        .bind(to_micros(claim.now))
        // Enough candidates that a few busy endpoints do not starve the rest.
        .bind(claim.limit.saturating_mul(4));
        for kind in claim.kinds {
            q = q.bind(*kind);
        }
        for endpoint in &busy {
            q = q.bind(*endpoint);
        }
        let candidates = q.fetch_all(&mut tx).await?;
        let mut taken: Vec<(String, String)> = Vec::new();
        let mut counts: std::collections::HashMap<String, usize> = in_flight
            .iter()
            .filter(|(e, _)| !e.is_empty())
            .cloned()
            .collect();
        for row in &candidates {
            if taken.len() as i64 >= claim.limit {
                break;
            }
            let id: String = row.try_get("id")?;
            // A job whose delivery is gone is claimed like any, and its run ends it.
            let endpoint: Option<String> = row.try_get("endpoint_id")?;
            let endpoint = endpoint.unwrap_or_default();
            let n = counts.entry(endpoint.clone()).or_default();
            if *n < per_endpoint {
                *n += 1;
                taken.push((id, endpoint));
            }
        }
        if taken.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let rows = query(format!(
            "UPDATE jobs SET locked_by = $1, locked_until = {now} + $2, attempts = attempts + 1 \
             WHERE id IN ({}) RETURNING id, kind, payload, attempts",
            placeholders(3, taken.len())
        ))
        .persistent(false)
        .bind(claim.worker)
        .bind(lease_micros(claim.lease));
        let rows = taken
            .iter()
            .fold(rows, |q, (id, _)| q.bind(id.as_str()))
            .fetch_all(&mut tx)
            .await?;
        tx.commit().await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for row in &rows {
            let job = job_from_row(row)?;
            let endpoint_id = taken
                .iter()
                .find(|(id, _)| id == job.id.as_str())
                .map(|(_, e)| e.clone())
                .unwrap_or_default();
            jobs.push(DeliveryJob { job, endpoint_id });
        }
        Ok(jobs)
    }

    async fn renew_leases(&self, worker: &str, jobs: &[JobId], lease: Duration) -> Result<u64> {
        let mut renewed = 0;
        for chunk in jobs.chunks(IDS_PER_STATEMENT) {
            let mut tx = self.begin_write().await?;
            let q = query(format!(
                "UPDATE jobs SET locked_until = {} + $2 WHERE locked_by = $1 AND done_at IS NULL \
                 AND id IN ({})",
                B::NOW_MICROS,
                placeholders(3, chunk.len())
            ))
            .persistent(false)
            .bind(worker)
            .bind(lease_micros(lease));
            renewed += chunk
                .iter()
                .fold(q, |q, id| q.bind(id.as_str()))
                .execute(&mut tx)
                .await?
                .rows_affected();
            tx.commit().await?;
        }
        Ok(renewed)
    }

    async fn release_jobs(&self, worker: &str, jobs: &[JobId]) -> Result<u64> {
        let mut released = 0;
        for chunk in jobs.chunks(IDS_PER_STATEMENT) {
            let mut tx = self.begin_write().await?;
            // Not started, so not an attempt either.
            let q = query(format!(
                "UPDATE jobs SET locked_by = NULL, locked_until = NULL, \
                 attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END \
                 WHERE locked_by = $1 AND id IN ({})",
                placeholders(2, chunk.len())
            ))
            .persistent(false)
            .bind(worker);
            released += chunk
                .iter()
                .fold(q, |q, id| q.bind(id.as_str()))
                .execute(&mut tx)
                .await?
                .rows_affected();
            tx.commit().await?;
        }
        Ok(released)
    }

    async fn complete_job(&self, id: &JobId, worker: &str, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.begin_write().await?;
        finish_job(&mut tx, id, worker, None, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn retry_job(
        &self,
        id: &JobId,
        worker: &str,
        run_at: OffsetDateTime,
        error: &str,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = query(
            "UPDATE jobs SET run_at = $3, last_error = $4, locked_by = NULL, locked_until = NULL \
             WHERE id = $1 AND locked_by = $2",
        )
        .bind(id.as_str())
        .bind(worker)
        .bind(to_micros(run_at))
        .bind(error)
        .execute(&mut tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::LeaseLost);
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A lease's length in microseconds, at least one.
fn lease_micros(lease: Duration) -> i64 {
    i64::try_from(lease.whole_microseconds())
        .unwrap_or(i64::MAX / 2)
        .max(1)
}

/// Finishes the job — done, or due again at `again` — while `worker` holds its lease; in the
/// caller's transaction, which must be dropped (rolled back) on [`StoreError::LeaseLost`].
pub(crate) async fn finish_job(
    tx: &mut dyn Conn,
    job: &JobId,
    worker: &str,
    again: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<()> {
    let done = match again {
        Some(at) => query(
            "UPDATE jobs SET run_at = $3, locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2",
        )
        .bind(job.as_str())
        .bind(worker)
        .bind(to_micros(at)),
        None => query(
            "UPDATE jobs SET done_at = $3, locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2",
        )
        .bind(job.as_str())
        .bind(worker)
        .bind(to_micros(now)),
    }
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::LeaseLost);
    }
    Ok(())
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
