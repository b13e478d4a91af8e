//! Durable background work. Jobs live in the database with a run time and a lease, so they
//! survive restarts, and several instances sharing one PostgreSQL never run the same job twice.
//! Every handler is idempotent (a conditional update), so a job run again after a crash is harmless.
//!
//! This file holds what the money lane's jobs do and the periodic sweeps; `lanes.rs` runs jobs in
//! lanes by kind (docs/api.md §12), `leases.rs` keeps their leases, and `shared.rs` the settings
//! every instance must agree on.

mod lanes;
mod leases;
pub mod shared;

pub use lanes::Worker;
pub(crate) use leases::LEASE_LOST;

use kassa_core::job::{
    AchSettlement, ExpirePaymentRequest, JobKind, JobPayload, NewJobSpec, PayoutBatch,
    ProcessorRelease,
};
use kassa_store::{Job, NewJob, StoreError};
use time::Duration;

use crate::money;
use crate::state::AppState;

/// How long after a payout cut-off its batch runs.
const PAYOUT_GRACE: Duration = Duration::minutes(5);

/// Runs the jobs due now, one claim per lane; how many ran. Events recorded since the last run
/// become webhook deliveries and emails first. Tests drive time with this (`run_pending_jobs`);
/// the worker runs the lanes on their own ([`Worker`]).
pub async fn run_due(state: &AppState) -> anyhow::Result<usize> {
    if let Err(e) = crate::webhooks::dispatch(state).await {
        tracing::warn!(
            error = format!("{e:#}"),
            "dispatching events to webhooks failed"
        );
    }
    lanes::run_each_lane_once(state).await
}

/// Runs one claimed job of the money lane and finishes it: done, or due again with backoff.
/// A worker that lost the job's lease meanwhile records nothing.
pub(crate) async fn run_money_job(state: &AppState, job: &Job) {
    let finished = match run(state, job).await {
        Ok(()) => {
            state.metrics.job(true);
            state
                .store
                .complete_job(&job.id, &state.worker_id, state.clock.now())
                .await
        }
        Err(e) => {
            state.metrics.job(false);
            // Exponential backoff, capped at an hour.
            let delay = Duration::seconds(
                2i64.saturating_pow(job.attempts.clamp(1, 12) as u32)
                    .min(3600),
            );
            tracing::warn!(job = %job.id, kind = %job.kind, error = format!("{e:#}"), "job failed; will retry");
            state
                .store
                .retry_job(
                    &job.id,
                    &state.worker_id,
                    state.clock.now() + delay,
                    &format!("{e:#}"),
                )
                .await
        }
    };
    match finished {
        Ok(()) => {}
        Err(StoreError::LeaseLost) => {
            tracing::warn!(job = %job.id, kind = %job.kind, "{LEASE_LOST}")
        }
        Err(e) => {
            tracing::warn!(job = %job.id, kind = %job.kind, error = %e, "could not finish a job; its lease will run out and it runs again")
        }
    }
}

async fn run(state: &AppState, job: &Job) -> anyhow::Result<()> {
    let now = state.clock.now();
    let kind = job.kind.parse::<JobKind>()?;
    match JobPayload::from_payload(kind, &job.payload)? {
        JobPayload::AchSettlement(AchSettlement {
            payment_id,
            outcome,
        }) => {
            // Already settled through the sandbox endpoint: nothing left to do. Counted in the
            // metrics like every resolved debit.
            crate::money::resolve_debit(state, None, &payment_id, &outcome).await?;
        }
        JobPayload::ExpirePaymentRequest(ExpirePaymentRequest { payment_request_id }) => {
            state
                .store
                .expire_payment_request(&payment_request_id, now)
                .await?;
        }
        JobPayload::PayoutBatch(PayoutBatch { cutoff }) => {
            let made =
                crate::admin::run_payouts(state.store.as_ref(), None, cutoff, state.clock.now())
                    .await?;
            if !made.is_empty() {
                tracing::info!(payouts = made.len(), cutoff = %cutoff, "payout batch cut");
            }
            // The next from the cut-off every instance shares (the database's), so a changed
            // cut-off replaces the old chain and two instances never run two chains.
            schedule_next_payout_batch(state).await?;
        }
        JobPayload::ProcessorRelease(ProcessorRelease { authorization_id }) => {
            let hold = state
                .store
                .authorization_to_release(&authorization_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("authorization {authorization_id} is gone"))?;
            // An error leaves the job to run again: a hold is released once the processor says so.
            state
                .processor_for(&hold.partner_id, hold.processor.connector)
                .await?
                .release(kassa_processor::Held {
                    authorization_id: &hold.id,
                    reference: hold.processor.reference.as_deref(),
                    amount: hold.amount,
                })
                .await?;
        }
        // Deliveries and emails have lanes of their own (`webhooks::deliver`,
        // `mail::worker::send_one`) and are never claimed by this one.
        JobPayload::WebhookDelivery(_) | JobPayload::Email(_) => {
            anyhow::bail!("unknown job kind {kind}")
        }
    }
    Ok(())
}

/// Periodic sweeps: settle attempts whose answer was never recorded, ask processors that do not
/// tell about bank debits what became of them, and forget idempotency keys past retention.
pub async fn housekeeping(state: &AppState) -> anyhow::Result<()> {
    let now = state.clock.now();
    // A record still awaiting the processor after `recovery.attemptTimeout` lost its process
    // (its processor call timed out well before: `money::protocol::processor_timeout`).
    let abandoned_before = now
        - Duration::try_from(state.config.recovery.attempt_timeout).unwrap_or(Duration::minutes(5));
    let recovered = money::recover::<money::Attempts>(state, abandoned_before).await?;
    if recovered > 0 {
        tracing::warn!(
            recovered,
            "recorded payment attempts left undecided by an earlier process"
        );
    }
    let recovered = money::recover::<money::Authorizations>(state, abandoned_before).await?;
    if recovered > 0 {
        tracing::warn!(
            recovered,
            "recorded authorizations left undecided by an earlier process"
        );
    }
    let recovered = money::recover::<money::Refunds>(state, abandoned_before).await?;
    if recovered > 0 {
        tracing::warn!(
            recovered,
            "recorded refunds left undecided by an earlier process"
        );
    }
    let resolved = money::check_debits(state).await?;
    if resolved > 0 {
        tracing::info!(
            resolved,
            "bank debits cleared or returned at their processor"
        );
    }
    // Expired and idle dashboard sessions, unfinished sign-ins, and limit counters that are
    // empty again.
    state
        .store
        .purge_sessions(now, now - state.config.session_idle_timeout)
        .await?;
    state.store.purge_limits(now).await?;
    state.limits.forget_idle(now);
    // The daily payout batch: the next cut-off is always scheduled, once.
    schedule_next_payout_batch(state).await?;
    state
        .store
        .purge_idempotency_keys(
            now - kassa_store::IdempotencyPolicy::default().retention - Duration::hours(1),
        )
        .await?;
    Ok(())
}

/// Schedules the batch of the next payout cut-off — the one in the database, shared by every
/// instance ([`shared::payout_cutoff`]) — unless it was ever scheduled.
async fn schedule_next_payout_batch(state: &AppState) -> anyhow::Result<()> {
    let now = state.clock.now();
    let cutoff = shared::payout_cutoff(state).await?;
    schedule_payout_batch(state, shared::last_cutoff(cutoff, now) + Duration::days(1)).await
}

/// Schedules the payout batch for `cutoff` unless it was ever scheduled (by any instance).
pub async fn schedule_payout_batch(
    state: &AppState,
    cutoff: time::OffsetDateTime,
) -> anyhow::Result<()> {
    let batch = PayoutBatch { cutoff };
    let key = batch.dedupe_key();
    // Run a little after the cut-off, so every transaction stamped before it has committed.
    let job = NewJobSpec {
        payload: JobPayload::PayoutBatch(batch),
        run_at: cutoff + PAYOUT_GRACE,
    };
    state
        .store
        .enqueue_job_once(&NewJob::from(&job), &key, state.clock.now())
        .await?;
    Ok(())
}
