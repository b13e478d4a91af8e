//! Refunding a payment: reserve the amount (never more than was captured), ask the processor,
//! record its answer — recorded once, and recovered from the processor after a crash.

use kassa_core::id::{PaymentId, RefundId};
use kassa_core::payment::DeclineCode;
use kassa_core::refund::Refund;
use kassa_store::{NewRefund, Partner, RefundBegin, RefundResult, StoreError};

use crate::checkout::{recorded_already, retrying_database};
use crate::error::ApiError;
use crate::payment::PROCESSOR_TIMEOUT;
use crate::state::AppState;

/// Refunds a payment, in its own task so a client that disconnects cannot cut it short.
/// `Started` carries the refund as recorded: `succeeded`, `failed` (the processor refused; the
/// amount is refundable again), or `pending` if the processor has not answered yet.
pub async fn refund(
    state: &AppState,
    partner: &Partner,
    payment: PaymentId,
    new: NewRefund,
) -> anyhow::Result<RefundBegin> {
    let (state, partner) = (state.clone(), partner.clone());
    tokio::spawn(async move { refund_detached(&state, &partner, &payment, &new).await }).await?
}

/// The refund a request made (or an earlier one under the same idempotency key), or why none
/// was made, in the API's words (the dashboard shows the same messages).
pub fn outcome(begun: RefundBegin) -> Result<Refund, ApiError> {
    match begun {
        RefundBegin::Started { refund, .. } | RefundBegin::Existing(refund) => Ok(refund),
        RefundBegin::NotFound => Err(ApiError::not_found("payment")),
        RefundBegin::NotSettled(p) => Err(ApiError::invalid_state(
            "payment_not_settled",
            match p.status {
                kassa_core::payment::PaymentStatus::Failed => {
                    format!("payment {} failed; nothing was collected to refund", p.id)
                }
                _ => format!(
                    "payment {} is still pending; a bank payment can be refunded once it has cleared",
                    p.id
                ),
            },
        )),
        RefundBegin::ExceedsAvailable { available, .. } => Err(ApiError::invalid_state(
            "refund_exceeds_available",
            format!(
                "at most {} of this payment is left to refund",
                available.display()
            ),
        )),
    }
}

async fn refund_detached(
    state: &AppState,
    partner: &Partner,
    payment_id: &PaymentId,
    new: &NewRefund,
) -> anyhow::Result<RefundBegin> {
    let begun = state
        .store
        .begin_refund(&partner.id, payment_id, new, state.clock.now())
        .await?;
    let RefundBegin::Started { refund, payment } = begun else {
        return Ok(begun);
    };
    let asked = tokio::time::timeout(
        PROCESSOR_TIMEOUT,
        state
            .processor
            .refund(&payment.id, &refund.id, refund.amount),
    )
    .await;
    let result = match asked {
        Err(_) => {
            tracing::warn!(refund = %refund.id, "processor did not answer a refund in time; it stays pending until recovery asks");
            return Ok(RefundBegin::Started { refund, payment });
        }
        Ok(Ok(())) => RefundResult::Succeeded,
        Ok(Err(e)) => {
            tracing::warn!(refund = %refund.id, error = %e, "processor refused a refund");
            RefundResult::Failed {
                code: DeclineCode::ProcessingError,
            }
        }
    };
    let recorded = retrying_database(refund.id.as_str(), || {
        state
            .store
            .finish_refund(&partner.id, &refund.id, &result, state.clock.now())
    })
    .await
    .map_err(anyhow::Error::from);
    let refund = match recorded {
        Ok(refund) => refund,
        Err(e) if recorded_already(&e) => current(state, partner, &refund.id).await?,
        Err(e) => return Err(e),
    };
    Ok(RefundBegin::Started { refund, payment })
}

async fn current(state: &AppState, partner: &Partner, id: &RefundId) -> anyhow::Result<Refund> {
    state
        .store
        .refund(&partner.id, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("refund {id} vanished"))
}

/// Settles refunds whose answer was never recorded, from the processor: one it made succeeded;
/// one it refused failed; one it never received is sent again (refunds are once per refund id),
/// and one it cannot be asked about stays pending for the next sweep.
pub async fn recover_abandoned_refunds(
    state: &AppState,
    started_before: time::OffsetDateTime,
) -> anyhow::Result<usize> {
    let mut recovered = 0;
    for refund in state.store.abandoned_refunds(started_before).await? {
        let known = state.processor.lookup_refund(&refund.id).await;
        let result = match known {
            Ok(Some(true)) => RefundResult::Succeeded,
            Ok(Some(false)) => RefundResult::Failed {
                code: DeclineCode::ProcessingError,
            },
            Ok(None) => match state
                .processor
                .refund(&refund.payment_id, &refund.id, refund.amount)
                .await
            {
                Ok(()) => RefundResult::Succeeded,
                Err(e) => {
                    tracing::warn!(refund = %refund.id, error = %e, "an abandoned refund could not be sent again; will retry");
                    continue;
                }
            },
            Err(e) => {
                tracing::warn!(refund = %refund.id, error = %e, "cannot ask the processor about an abandoned refund");
                continue;
            }
        };
        match state
            .store
            .finish_refund(&refund.partner_id, &refund.id, &result, state.clock.now())
            .await
        {
            Ok(_) => recovered += 1,
            Err(StoreError::Inconsistent(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(recovered)
}
