//! Sends queued emails: each claimed email job is one try, run in the email lane
//! (`jobs/lanes.rs`) so a slow SMTP server holds up nothing else. A try that fails is tried again later
//! (`kassa_core::mail::retry_delay`) until the server refuses for good or the tries run out;
//! the email's row says how it went, and the payment's timeline shows it.

use kassa_core::job::{JobKind, JobPayload, SendEmail};
use kassa_core::mail::{self, EmailStatus};
use kassa_store::{EmailAttempt, Job, StoreError};

use super::compose::{compose, message, Unwritable};
use crate::state::AppState;

/// Makes one try at a claimed email job and records it with the job. A worker that lost the
/// job's lease meanwhile records nothing; on any other error the lease runs out and the job is
/// claimed again.
pub(crate) async fn send_one(state: &AppState, job: &Job) {
    if let Err(e) = run(state, job).await {
        if matches!(e.downcast_ref::<StoreError>(), Some(StoreError::LeaseLost)) {
            tracing::warn!(job = %job.id, "{}", crate::jobs::LEASE_LOST);
            return;
        }
        state.metrics.job(false);
        tracing::warn!(job = %job.id, error = format!("{e:#}"), "email job failed");
    }
}

async fn run(state: &AppState, job: &Job) -> anyhow::Result<()> {
    let JobPayload::Email(SendEmail { email_id }) =
        JobPayload::from_payload(JobKind::Email, &job.payload)?
    else {
        anyhow::bail!("not an email job");
    };
    let Some(email) = state.store.email(&email_id).await? else {
        state
            .store
            .complete_job(&job.id, &state.worker_id, state.clock.now())
            .await?;
        return Ok(());
    };
    if email.status != EmailStatus::Queued {
        // Sent or failed by an earlier try whose job outlived it.
        state
            .store
            .complete_job(&job.id, &state.worker_id, state.clock.now())
            .await?;
        return Ok(());
    }
    let attempt = email.attempts + 1;
    let (failed, permanent) = match state.mailer.as_deref() {
        None => (
            "Kassa has no SMTP server set up (smtp.url)".to_owned(),
            false,
        ),
        Some(mailer) => {
            let written = match compose(state, &email).await {
                Ok(composed) => message(mailer, &email, &composed),
                Err(e) => Err(e),
            };
            match written {
                Ok(message) => match mailer.send(message).await {
                    Ok(()) => {
                        state
                            .store
                            .record_email_attempt(
                                &email.id,
                                &state.worker_id,
                                &EmailAttempt::Sent,
                                state.clock.now(),
                            )
                            .await?;
                        state.metrics.job(true);
                        tracing::info!(email = %email.id, kind = email.kind.as_str(), "email sent");
                        return Ok(());
                    }
                    Err(e) => (e.reason, e.permanent),
                },
                Err(e) => match e.downcast_ref::<Unwritable>() {
                    Some(u) => (u.0.clone(), true),
                    // A database error: tried again like a failed send.
                    None => (format!("{e:#}"), false),
                },
            }
        }
    };
    let now = state.clock.now();
    let outcome = if mail::retry(attempt, permanent) {
        EmailAttempt::Retry {
            error: failed.clone(),
            at: now + mail::retry_delay(attempt),
        }
    } else {
        EmailAttempt::Failed {
            error: failed.clone(),
        }
    };
    state
        .store
        .record_email_attempt(&email.id, &state.worker_id, &outcome, now)
        .await?;
    state.metrics.job(false);
    tracing::warn!(
        email = %email.id,
        kind = email.kind.as_str(),
        attempt,
        again = matches!(outcome, EmailAttempt::Retry { .. }),
        error = %failed,
        "email not sent"
    );
    Ok(())
}
