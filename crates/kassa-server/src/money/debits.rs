//! Bank debits at a processor that reports them only when asked (Authorize.net's eCheck): from
//! time to time housekeeping asks what became of each pending debit and clears or returns it
//! with the same store write as the sandbox's settlement (`resolve_ach`).

use kassa_core::id::{PartnerId, PaymentId};
use kassa_core::payment::AchResolution;
use kassa_core::processor::Connector;
use kassa_processor::PaymentLookup;
use kassa_store::{ResolveOutcome, StoreError};
use time::Duration;

use crate::state::AppState;

/// A debit is first asked about this long after it was submitted (none settles sooner).
const FIRST_CHECK_AFTER: Duration = Duration::hours(1);
/// And then again at most this often.
const CHECK_EVERY: Duration = Duration::hours(6);
/// How many debits one sweep asks about, per connector.
const PER_SWEEP: i64 = 50;

/// Clears or returns a pending bank debit (the sandbox's settlement, a processor's report or
/// notification, the sandbox API) and counts the payment's new status; a debit no longer pending
/// changes nothing.
pub(crate) async fn resolve_debit(
    state: &AppState,
    partner: Option<&PartnerId>,
    payment: &PaymentId,
    resolution: &AchResolution,
) -> Result<ResolveOutcome, StoreError> {
    let outcome = state
        .store
        .resolve_ach(partner, payment, resolution, state.clock.now())
        .await?;
    if let ResolveOutcome::Resolved(resolved) = &outcome {
        state.metrics.payment(resolved);
    }
    Ok(outcome)
}

/// Asks about the pending debits that are due; how many it cleared or returned.
pub(crate) async fn check_debits(state: &AppState) -> anyhow::Result<usize> {
    let now = state.clock.now();
    let mut resolved = 0;
    for connector in Connector::ALL
        .into_iter()
        .filter(|c| c.reports_debits_when_asked())
    {
        let due = state
            .store
            .debits_to_check(
                connector,
                now - FIRST_CHECK_AFTER,
                now - CHECK_EVERY,
                now,
                PER_SWEEP,
            )
            .await?;
        for payment in due {
            let asked = async {
                state
                    .processor_for(&payment.partner_id, connector)
                    .await?
                    .debit_status(PaymentLookup {
                        payment_id: &payment.id,
                        reference: payment.processor.reference.as_deref(),
                        amount: payment.amount,
                        capture_of: None,
                    })
                    .await
            };
            let resolution = match asked.await {
                Ok(Some(resolution)) => resolution,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(payment = %payment.id, %connector, error = %e, "cannot ask what became of a bank debit; asking again later");
                    continue;
                }
            };
            let outcome =
                resolve_debit(state, Some(&payment.partner_id), &payment.id, &resolution).await?;
            if let ResolveOutcome::Resolved(_) = outcome {
                resolved += 1;
            }
        }
    }
    Ok(resolved)
}
