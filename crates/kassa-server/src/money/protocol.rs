//! The money protocol, written once: record the intent, ask the processor with a timeout, record
//! the answer (retrying the write, as the money has moved by then), and let recovery settle what
//! was never recorded. Each flow (`link_payment.rs`, `sale.rs`, `hold.rs`, `refund_flow.rs`) says
//! only what is particular to it; each kind of record (`records.rs`) says how its answer is
//! written and how recovery learns it from the processor.

use std::future::Future;
use std::ops::ControlFlow;

use kassa_store::StoreError;
use time::OffsetDateTime;

use crate::state::AppState;

/// How long Kassa waits for the processor, unless the recovery window is short (see
/// [`processor_timeout`]). A call that times out stays undecided (`pending`) until recovery asks
/// the processor what happened.
pub const PROCESSOR_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a flow waits for the processor when recovery settles records left awaiting it for
/// `attempt_timeout` (`recovery.attemptTimeout`): [`PROCESSOR_TIMEOUT`], but never more than half
/// the window, so recovery never asks about a call still in progress (and takes its silence for
/// a charge that never happened).
pub(crate) fn processor_timeout(attempt_timeout: std::time::Duration) -> std::time::Duration {
    PROCESSOR_TIMEOUT.min(attempt_timeout / 2)
}

/// A kind of record whose outcome the processor decides: a payment attempt, an authorization,
/// a refund.
pub(crate) trait Record: 'static {
    /// Names one record: what its answer is written under.
    type Key: Send + Sync;
    /// The processor's answer, as the store records it.
    type Answer: Send + Sync;
    /// The record once its answer is written.
    type Written: Send;

    /// The record's id, for log lines.
    fn id(key: &Self::Key) -> &str;

    /// Writes the answer. The store's update is conditional on the record still awaiting it, so
    /// a second write (the flow and recovery racing) fails with `StoreError::AlreadyRecorded`.
    fn write(
        state: &AppState,
        key: &Self::Key,
        answer: &Self::Answer,
    ) -> impl Future<Output = Result<Self::Written, StoreError>> + Send;

    /// Counts an answer once it is recorded, by its flow or by recovery.
    fn count(_state: &AppState, _answer: &Self::Answer, _written: &Self::Written) {}

    /// The records started before `started_before` whose answer was never written.
    fn abandoned(
        state: &AppState,
        started_before: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Self::Key>, StoreError>> + Send;

    /// What the processor decided for an abandoned record, or None (logged) when that cannot be
    /// known now: the record stays as it is for the next sweep rather than risk moving money twice.
    fn look_up(
        state: &AppState,
        key: &Self::Key,
    ) -> impl Future<Output = Option<Self::Answer>> + Send;
}

/// One money flow: what it records before the processor is asked, how it asks, and what its
/// caller gets back in each case.
pub(crate) trait Flow: Send + 'static {
    type Record: Record;
    /// What the recorded intent hands on to the rest of the flow.
    type Intent: Send;
    /// What the caller gets.
    type Outcome: Send + 'static;

    /// Records the intent: `Continue` with what was recorded, or `Break` with the outcome when
    /// the processor is not to be asked (refused, or done already under the same idempotency key).
    fn record_intent(
        &mut self,
        state: &AppState,
    ) -> impl Future<Output = anyhow::Result<ControlFlow<Self::Outcome, Self::Intent>>> + Send;

    /// The record the answer is written to.
    fn key(intent: &Self::Intent) -> &<Self::Record as Record>::Key;

    /// Asks the processor. A processor that certainly was not reached (or refused) moved no
    /// money, and that is an answer too; the flow logs it. `None` when the answer is unknown —
    /// lost, unreadable, or still pending at the processor — which is never success.
    fn ask(
        &self,
        state: &AppState,
        intent: &Self::Intent,
    ) -> impl Future<Output = Option<<Self::Record as Record>::Answer>> + Send;

    /// The processor's answer is unknown (no answer in time, or one Kassa cannot rely on): the
    /// record stays undecided until recovery or a notification learns what happened.
    fn undecided(
        self,
        state: &AppState,
        intent: Self::Intent,
    ) -> impl Future<Output = anyhow::Result<Self::Outcome>> + Send;

    /// The answer is recorded.
    fn answered(
        self,
        state: &AppState,
        intent: Self::Intent,
        answer: <Self::Record as Record>::Answer,
        written: <Self::Record as Record>::Written,
    ) -> impl Future<Output = anyhow::Result<Self::Outcome>> + Send;

    /// Recovery recorded an answer first (a call that outlived the recovery window); that record
    /// stands.
    fn recorded_meanwhile(
        self,
        state: &AppState,
        intent: Self::Intent,
    ) -> impl Future<Output = anyhow::Result<Self::Outcome>> + Send;
}

/// Runs a flow in its own task, so a client that disconnects (which drops this future) cannot
/// cut it between the processor's answer and its record.
pub(crate) async fn run<F: Flow>(state: &AppState, flow: F) -> anyhow::Result<F::Outcome> {
    let state = state.clone();
    // In the request's span, so its lines carry the request id.
    let flow = async move { run_detached(&state, flow).await };
    tokio::spawn(tracing::Instrument::in_current_span(flow)).await?
}

async fn run_detached<F: Flow>(state: &AppState, mut flow: F) -> anyhow::Result<F::Outcome> {
    let intent = match flow.record_intent(state).await? {
        ControlFlow::Continue(intent) => intent,
        ControlFlow::Break(outcome) => return Ok(outcome),
    };
    let wait = processor_timeout(state.config.recovery.attempt_timeout);
    let asked = tokio::time::timeout(wait, flow.ask(state, &intent)).await;
    let Ok(Some(answer)) = asked else {
        return flow.undecided(state, intent).await;
    };
    let key = F::key(&intent);
    let written =
        retrying_database(F::Record::id(key), || F::Record::write(state, key, &answer)).await;
    match written {
        Ok(written) => {
            F::Record::count(state, &answer, &written);
            flow.answered(state, intent, answer, written).await
        }
        Err(StoreError::AlreadyRecorded) => flow.recorded_meanwhile(state, intent).await,
        Err(e) => Err(e.into()),
    }
}

/// Writes an answer that did not come from the flow's own call (recovery, a processor's
/// notification) and counts it once written.
pub(crate) async fn write_counted<R: Record>(
    state: &AppState,
    key: &R::Key,
    answer: &R::Answer,
) -> Result<R::Written, StoreError> {
    let written = R::write(state, key, answer).await?;
    R::count(state, answer, &written);
    Ok(written)
}

/// Settles the records of one kind whose answer was never recorded (the process died mid-call,
/// or the database failed every retry), from what the processor says; how many were settled.
pub(crate) async fn recover<R: Record>(
    state: &AppState,
    started_before: OffsetDateTime,
) -> anyhow::Result<usize> {
    let mut recovered = 0;
    for key in R::abandoned(state, started_before).await? {
        let Some(answer) = R::look_up(state, &key).await else {
            continue;
        };
        match write_counted::<R>(state, &key, &answer).await {
            Ok(_) => recovered += 1,
            // Recorded meanwhile by its own request.
            Err(StoreError::AlreadyRecorded) => {}
            // This record cannot take its answer (its row is corrupt, or what it needs is gone):
            // said loudly, and the sweep goes on to the others, which it must not hold up.
            Err(
                e @ (StoreError::Corrupt(_)
                | StoreError::Missing(_)
                | StoreError::ChangedUnderneath(_)),
            ) => {
                tracing::error!(record = R::id(&key), error = %e, "recovery could not record the processor's answer; the record stays for the next sweep");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(recovered)
}

/// Runs a store call that records money already moved, retrying while the database fails
/// (100 ms, 300 ms, 900 ms, 2.7 s); other errors are final.
async fn retrying_database<T, F, Fut>(what: &str, mut call: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut delay = std::time::Duration::from_millis(100);
    let mut tries = 0;
    loop {
        match call().await {
            Err(e)
                if (e.is_database() || matches!(e, StoreError::NotCommitted(_))) && tries < 4 =>
            {
                tries += 1;
                tracing::warn!(
                    record = what,
                    error = format!("{:#}", anyhow::Error::from(e)),
                    "recording a processor answer failed; retrying"
                );
                tokio::time::sleep(delay).await;
                delay *= 3;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_processor_gets_at_most_half_the_recovery_window() {
        assert_eq!(
            processor_timeout(Duration::from_secs(300)),
            PROCESSOR_TIMEOUT
        );
        assert_eq!(
            processor_timeout(Duration::from_secs(120)),
            PROCESSOR_TIMEOUT
        );
        assert_eq!(
            processor_timeout(Duration::from_secs(90)),
            Duration::from_secs(45)
        );
        assert_eq!(
            processor_timeout(Duration::from_secs(1)),
            Duration::from_millis(500)
        );
    }
}
