//! Durable background work. Jobs live in the database with a run time and a lease, so they
//! survive restarts, and several instances sharing one PostgreSQL never run the same job twice.
//! Every handler is idempotent (a conditional update), so a job run again after a crash is harmless.

use kassa_core::job::{
    AchSettlement, ExpirePaymentRequest, JobKind, JobPayload, NewJobSpec, PayoutBatch,
    ProcessorRelease,
};
use kassa_store::{Job, NewJob};
use time::Duration;

use crate::money;
use crate::state::AppState;

/// How long a claimed job is ours before another worker may take it over.
const LEASE: Duration = Duration::seconds(60);
/// How long after a payout cut-off its batch runs.
const PAYOUT_GRACE: Duration = Duration::minutes(5);

/// Runs the jobs due now; how many ran. Events recorded since the last run become webhook
/// deliveries first, and delivery attempts run side by side with the other jobs.
pub async fn run_due(state: &AppState) -> anyhow::Result<usize> {
    if let Err(e) = crate::webhooks::dispatch(state).await {
        tracing::warn!(
            error = format!("{e:#}"),
            "dispatching events to webhooks failed"
        );
    }
    let now = state.clock.now();
    let jobs = state
        .store
        .claim_jobs(&state.worker_id, now, now + LEASE, 32)
        .await?;
    let n = jobs.len();
    let (deliveries, jobs): (Vec<Job>, Vec<Job>) =
        jobs.into_iter().partition(crate::webhooks::is_delivery);
    let (emails, jobs): (Vec<Job>, Vec<Job>) =
        jobs.into_iter().partition(crate::mail::worker::is_email);
    let mut sending = crate::webhooks::spawn_deliveries(state, deliveries);
    let mut mailing = crate::mail::worker::spawn(state, emails);
    let ran = run_each(state, jobs).await;
    while sending.join_next().await.is_some() {}
    while mailing.join_next().await.is_some() {}
    ran.map(|()| n)
}

async fn run_each(state: &AppState, jobs: Vec<Job>) -> anyhow::Result<()> {
    for job in jobs {
        match run(state, &job).await {
            Ok(()) => {
                state.metrics.job(true);
                state.store.complete_job(&job.id, state.clock.now()).await?
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
                    .retry_job(&job.id, state.clock.now() + delay, &format!("{e:#}"))
                    .await?;
            }
        }
    }
    Ok(())
}

async fn run(state: &AppState, job: &Job) -> anyhow::Result<()> {
    let now = state.clock.now();
    let kind = job.kind.parse::<JobKind>()?;
    match JobPayload::from_payload(kind, &job.payload)? {
        JobPayload::AchSettlement(AchSettlement {
            payment_id,
            outcome,
        }) => {
            // Already settled through the sandbox endpoint: nothing left to do.
            state
                .store
                .resolve_ach(None, &payment_id, &outcome, now)
                .await?;
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
            // The next from the configuration, so a changed cut-off replaces the old chain.
            schedule_payout_batch(
                state,
                state.config.last_payout_cutoff(now) + Duration::days(1),
            )
            .await?;
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
        // Claimed deliveries and emails are run by `webhooks::spawn_deliveries` and
        // `mail::worker::spawn`, never here.
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
    schedule_payout_batch(
        state,
        state.config.last_payout_cutoff(now) + Duration::days(1),
    )
    .await?;
    state
        .store
        .purge_idempotency_keys(
            now - kassa_store::IdempotencyPolicy::default().retention - Duration::hours(1),
        )
        .await?;
    Ok(())
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
