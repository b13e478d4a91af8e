//! The three kinds of record the money protocol writes — payment attempts, authorizations and
//! refunds — each with how its answer is written and how recovery learns it from the processor.
//! The answers themselves are mapped from the processor's words here, once for every flow.

use kassa_core::id::{AuthorizationId, PartnerId, PaymentId};
use kassa_core::payment::DeclineCode;
use kassa_core::refund::Refund;
use kassa_processor::{ChargeOutcome, ProcessorError};
use kassa_store::{AttemptResult, AuthorizationResult, FinishedAttempt, RefundResult, StoreError};
use time::OffsetDateTime;

use super::protocol::Record;
use crate::counters::Attempt;
use crate::state::AppState;

/// Payment attempts: a try on a payment link, an API sale, the capture of an authorization.
pub(crate) struct Attempts;

impl Record for Attempts {
    type Key = (PartnerId, PaymentId);
    type Answer = AttemptResult;
    type Written = FinishedAttempt;

    fn id((_, payment): &Self::Key) -> &str {
        payment.as_str()
    }

    async fn write(
        state: &AppState,
        (partner, payment): &Self::Key,
        answer: &AttemptResult,
    ) -> Result<FinishedAttempt, StoreError> {
        state
            .store
            .finish_attempt(partner, payment, answer, state.clock.now())
            .await
    }

    fn count(state: &AppState, answer: &AttemptResult) {
        state.metrics.attempt(match answer {
            AttemptResult::Approved { .. } => Attempt::Approved,
            AttemptResult::Declined { .. } => Attempt::Declined,
            AttemptResult::AchSubmitted { .. } => Attempt::AchSubmitted,
        });
    }

    async fn abandoned(
        state: &AppState,
        started_before: OffsetDateTime,
    ) -> Result<Vec<Self::Key>, StoreError> {
        state.store.abandoned_attempts(started_before).await
    }

    /// What the processor decided for that payment id; an attempt it never received was not
    /// charged and fails.
    async fn look_up(state: &AppState, (_, payment): &Self::Key) -> Option<AttemptResult> {
        match state.processor.lookup(payment).await {
            Ok(Some(outcome)) => Some(attempt_result(state, outcome)),
            Ok(None) => Some(AttemptResult::Declined {
                code: DeclineCode::ProcessingError,
            }),
            Err(e) => {
                // Unknown: keep the request locked rather than risk a second charge.
                tracing::warn!(payment = %payment, error = %e, "cannot ask the processor about an abandoned attempt");
                None
            }
        }
    }
}

/// The answer to a charge, as recorded. A processor that was not reached charged nothing, and
/// the payer may try again.
pub(crate) fn charge_answer(
    state: &AppState,
    payment: &PaymentId,
    charged: Result<ChargeOutcome, ProcessorError>,
) -> AttemptResult {
    match charged {
        Ok(outcome) => attempt_result(state, outcome),
        Err(e) => {
            tracing::warn!(payment = %payment, error = %e, "processor unavailable");
            AttemptResult::Declined {
                code: DeclineCode::ProcessingError,
            }
        }
    }
}

/// How a processor's answer is recorded; a sandbox ACH debit is scheduled to settle.
fn attempt_result(state: &AppState, outcome: ChargeOutcome) -> AttemptResult {
    match outcome {
        ChargeOutcome::Approved { funding } => AttemptResult::Approved { funding },
        ChargeOutcome::Declined { code } => AttemptResult::Declined { code },
        ChargeOutcome::AchSubmitted { expected } => AttemptResult::AchSubmitted {
            settle: expected.map(|r| (r, state.clock.now() + state.config.ach_settlement_delay())),
        },
    }
}

/// Authorizations: funds held on a card or Google Pay, to capture later.
pub(crate) struct Authorizations;

impl Record for Authorizations {
    type Key = (PartnerId, AuthorizationId);
    type Answer = AuthorizationResult;
    type Written = kassa_core::authorization::Authorization;

    fn id((_, id): &Self::Key) -> &str {
        id.as_str()
    }

    async fn write(
        state: &AppState,
        (partner, id): &Self::Key,
        answer: &AuthorizationResult,
    ) -> Result<Self::Written, StoreError> {
        state
            .store
            .finish_authorization(partner, id, answer, state.clock.now())
            .await
    }

    async fn abandoned(
        state: &AppState,
        started_before: OffsetDateTime,
    ) -> Result<Vec<Self::Key>, StoreError> {
        state.store.abandoned_authorizations(started_before).await
    }

    async fn look_up(state: &AppState, (_, id): &Self::Key) -> Option<AuthorizationResult> {
        match state.processor.lookup_authorization(id).await {
            Ok(Some(outcome)) => Some(authorization_result(outcome)),
            Ok(None) => Some(AuthorizationResult::Declined {
                code: DeclineCode::ProcessingError,
            }),
            Err(e) => {
                tracing::warn!(authorization = %id, error = %e, "cannot ask the processor about an abandoned authorization");
                None
            }
        }
    }
}

/// The answer to a hold, as recorded.
pub(crate) fn authorization_answer(
    id: &AuthorizationId,
    held: Result<ChargeOutcome, ProcessorError>,
) -> AuthorizationResult {
    match held {
        Ok(outcome) => authorization_result(outcome),
        Err(e) => {
            tracing::warn!(authorization = %id, error = %e, "processor unavailable");
            AuthorizationResult::Declined {
                code: DeclineCode::ProcessingError,
            }
        }
    }
}

fn authorization_result(outcome: ChargeOutcome) -> AuthorizationResult {
    match outcome {
        ChargeOutcome::Approved { funding } => AuthorizationResult::Authorized { funding },
        ChargeOutcome::Declined { code } => AuthorizationResult::Declined { code },
        // A processor that answers a hold with a debit is broken; the hold did not happen.
        ChargeOutcome::AchSubmitted { .. } => AuthorizationResult::Declined {
            code: DeclineCode::ProcessingError,
        },
    }
}

/// Refunds: a captured payment's money paid back, once per refund id. The key is the refund as
/// it was reserved (its partner, payment and amount are what recovery needs).
pub(crate) struct Refunds;

impl Record for Refunds {
    type Key = Refund;
    type Answer = RefundResult;
    type Written = Refund;

    fn id(refund: &Refund) -> &str {
        refund.id.as_str()
    }

    async fn write(
        state: &AppState,
        refund: &Refund,
        answer: &RefundResult,
    ) -> Result<Refund, StoreError> {
        state
            .store
            .finish_refund(&refund.partner_id, &refund.id, answer, state.clock.now())
            .await
    }

    async fn abandoned(
        state: &AppState,
        started_before: OffsetDateTime,
    ) -> Result<Vec<Refund>, StoreError> {
        state.store.abandoned_refunds(started_before).await
    }

    /// One the processor made succeeded; one it refused failed; one it never received is sent
    /// again (refunds are once per refund id), and one it cannot be asked about stays pending.
    async fn look_up(state: &AppState, refund: &Refund) -> Option<RefundResult> {
        match state.processor.lookup_refund(&refund.id).await {
            Ok(Some(true)) => Some(RefundResult::Succeeded),
            Ok(Some(false)) => Some(RefundResult::Failed {
                code: DeclineCode::ProcessingError,
            }),
            Ok(None) => match state
                .processor
                .refund(&refund.payment_id, &refund.id, refund.amount)
                .await
            {
                Ok(()) => Some(RefundResult::Succeeded),
                Err(e) => {
                    tracing::warn!(refund = %refund.id, error = %e, "an abandoned refund could not be sent again; will retry");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(refund = %refund.id, error = %e, "cannot ask the processor about an abandoned refund");
                None
            }
        }
    }
}
