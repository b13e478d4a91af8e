//! The three kinds of record the money protocol writes — payment attempts, authorizations and
//! refunds — each with how its answer is written and how recovery learns it from the processor
//! the record went to. The answers themselves are mapped from the processor's words here, once
//! for every flow: `NotSent` is a failure (nothing moved), `Unknown` is no answer at all.

use kassa_core::id::{AuthorizationId, PartnerId, PaymentId};
use kassa_core::payment::{DeclineCode, Funding, Payment};
use kassa_core::refund::Refund;
use kassa_processor::{
    Answer, Captured, ChargeOutcome, Held, PaymentLookup, ProcessorError, RefundOutcome,
    RefundRequest,
};
use kassa_store::{AttemptResult, AuthorizationResult, FinishedAttempt, RefundResult, StoreError};
use time::OffsetDateTime;

use super::protocol::Record;
use crate::counters::Attempt;
use crate::state::AppState;

/// An answer as it is recorded: what was decided, and the processor's id for it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answered<T> {
    pub result: T,
    pub reference: Option<String>,
}

impl<T> Answered<T> {
    /// A failure decided without the processor's word (it was not reached).
    fn unreached(result: T) -> Self {
        Self {
            result,
            reference: None,
        }
    }
}

const UNREACHED: DeclineCode = DeclineCode::ProcessingError;

/// Payment attempts: a try on a payment link, an API sale, the capture of an authorization.
pub(crate) struct Attempts;

impl Record for Attempts {
    type Key = (PartnerId, PaymentId);
    type Answer = Answered<AttemptResult>;
    type Written = FinishedAttempt;

    fn id((_, payment): &Self::Key) -> &str {
        payment.as_str()
    }

    async fn write(
        state: &AppState,
        (partner, payment): &Self::Key,
        answer: &Self::Answer,
    ) -> Result<FinishedAttempt, StoreError> {
        state
            .store
            .finish_attempt(
                partner,
                payment,
                &answer.result,
                answer.reference.as_deref(),
                state.clock.now(),
            )
            .await
    }

    fn count(state: &AppState, answer: &Self::Answer, written: &FinishedAttempt) {
        state.metrics.payment(&written.payment);
        state.metrics.attempt(match answer.result {
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

    /// What the processor decided for that payment; one it never received was not charged and
    /// fails.
    async fn look_up(state: &AppState, (partner, id): &Self::Key) -> Option<Self::Answer> {
        let looked_up = async {
            let payment = state
                .store
                .payment(partner, id)
                .await
                .map_err(|e| ProcessorError::Unknown(format!("the payment cannot be read: {e}")))?
                .ok_or_else(|| ProcessorError::Unknown("the payment is gone".into()))?;
            let hold = match &payment.authorization_id {
                Some(auth) => state
                    .store
                    .authorization(partner, auth)
                    .await
                    .map_err(|e| {
                        ProcessorError::Unknown(format!("the authorization cannot be read: {e}"))
                    })?,
                None => None,
            };
            let processor = state
                .processor_for(partner, payment.processor.connector)
                .await?;
            processor
                .lookup(PaymentLookup {
                    payment_id: id,
                    reference: payment.processor.reference.as_deref(),
                    amount: payment.amount,
                    capture_of: hold.as_ref().map(|a| Held {
                        authorization_id: &a.id,
                        reference: a.processor.reference.as_deref(),
                        amount: a.amount,
                    }),
                })
                .await
        };
        match looked_up.await {
            Ok(Some(answer)) => Some(attempt_answer(state, answer)),
            Ok(None) => Some(Answered::unreached(AttemptResult::Declined {
                code: UNREACHED,
            })),
            Err(e) => {
                // Unknown: keep the request locked rather than risk a second charge.
                tracing::warn!(payment = %id, error = %e, "cannot learn what the processor did with an abandoned attempt");
                None
            }
        }
    }
}

/// The answer to a charge, as recorded; None while it is unknown. A processor that was not
/// reached charged nothing, and the payer may try again.
pub(crate) fn charge_answer(
    state: &AppState,
    payment: &PaymentId,
    charged: Result<Answer, ProcessorError>,
) -> Option<Answered<AttemptResult>> {
    match charged {
        Ok(answer) => Some(attempt_answer(state, answer)),
        Err(ProcessorError::NotSent(why)) => {
            tracing::warn!(payment = %payment, error = %why, "processor not reached; the payment failed");
            Some(Answered::unreached(AttemptResult::Declined {
                code: UNREACHED,
            }))
        }
        Err(ProcessorError::Unknown(why)) => {
            tracing::warn!(payment = %payment, error = %why, "the processor's answer is unknown; the payment stays pending until recovery asks");
            None
        }
    }
}

/// How a processor's answer is recorded; a sandbox ACH debit is scheduled to settle.
fn attempt_answer(state: &AppState, answer: Answer) -> Answered<AttemptResult> {
    let result = match answer.outcome {
        ChargeOutcome::Approved { funding } => AttemptResult::Approved { funding },
        ChargeOutcome::Declined { code } => AttemptResult::Declined { code },
        ChargeOutcome::AchSubmitted { expected } => AttemptResult::AchSubmitted {
            settle: expected.map(|r| (r, state.clock.now() + state.config.ach_settlement_delay())),
        },
    };
    Answered {
        result,
        reference: answer.reference,
    }
}

/// The answer to a capture: the hold's funding when the processor does not say.
pub(crate) fn capture_answer(
    state: &AppState,
    payment: &Payment,
    hold_funding: Funding,
    captured: Result<Answer, ProcessorError>,
) -> Option<Answered<AttemptResult>> {
    let mut answer = charge_answer(state, &payment.id, captured)?;
    answer.result = match answer.result {
        AttemptResult::Approved {
            funding: Funding::Unknown,
        } => AttemptResult::Approved {
            funding: hold_funding,
        },
        // A hold captured as a debit is a broken answer: nothing was captured.
        AttemptResult::AchSubmitted { .. } => AttemptResult::Declined { code: UNREACHED },
        other => other,
    };
    Some(answer)
}

/// Authorizations: funds held on a card or Google Pay, to capture later.
pub(crate) struct Authorizations;

impl Record for Authorizations {
    type Key = (PartnerId, AuthorizationId);
    type Answer = Answered<AuthorizationResult>;
    type Written = kassa_core::authorization::Authorization;

    fn id((_, id): &Self::Key) -> &str {
        id.as_str()
    }

    async fn write(
        state: &AppState,
        (partner, id): &Self::Key,
        answer: &Self::Answer,
    ) -> Result<Self::Written, StoreError> {
        state
            .store
            .finish_authorization(
                partner,
                id,
                &answer.result,
                answer.reference.as_deref(),
                state.clock.now(),
            )
            .await
    }

    async fn abandoned(
        state: &AppState,
        started_before: OffsetDateTime,
    ) -> Result<Vec<Self::Key>, StoreError> {
        state.store.abandoned_authorizations(started_before).await
    }

    async fn look_up(state: &AppState, (partner, id): &Self::Key) -> Option<Self::Answer> {
        let looked_up = async {
            let hold = state
                .store
                .authorization(partner, id)
                .await
                .map_err(|e| {
                    ProcessorError::Unknown(format!("the authorization cannot be read: {e}"))
                })?
                .ok_or_else(|| ProcessorError::Unknown("the authorization is gone".into()))?;
            state
                .processor_for(partner, hold.processor.connector)
                .await?
                .lookup_authorization(id, hold.amount)
                .await
        };
        match looked_up.await {
            Ok(Some(answer)) => Some(authorization_answer(answer)),
            Ok(None) => Some(Answered::unreached(AuthorizationResult::Declined {
                code: UNREACHED,
            })),
            Err(e) => {
                tracing::warn!(authorization = %id, error = %e, "cannot learn what the processor did with an abandoned authorization");
                None
            }
        }
    }
}

/// The answer to a hold, as recorded; None while it is unknown.
pub(crate) fn hold_answer(
    id: &AuthorizationId,
    held: Result<Answer, ProcessorError>,
) -> Option<Answered<AuthorizationResult>> {
    match held {
        Ok(answer) => Some(authorization_answer(answer)),
        Err(ProcessorError::NotSent(why)) => {
            tracing::warn!(authorization = %id, error = %why, "processor not reached; the authorization failed");
            Some(Answered::unreached(AuthorizationResult::Declined {
                code: UNREACHED,
            }))
        }
        Err(ProcessorError::Unknown(why)) => {
            tracing::warn!(authorization = %id, error = %why, "the processor's answer is unknown; the authorization stays pending until recovery asks");
            None
        }
    }
}

fn authorization_answer(answer: Answer) -> Answered<AuthorizationResult> {
    let result = match answer.outcome {
        ChargeOutcome::Approved { funding } => AuthorizationResult::Authorized { funding },
        ChargeOutcome::Declined { code } => AuthorizationResult::Declined { code },
        // A processor that answers a hold with a debit is broken; the hold did not happen.
        ChargeOutcome::AchSubmitted { .. } => AuthorizationResult::Declined { code: UNREACHED },
    };
    Answered {
        result,
        reference: answer.reference,
    }
}

/// Refunds: a captured payment's money paid back, once per refund id. The key is the refund as
/// it was reserved (its partner, payment and amount are what recovery needs).
pub(crate) struct Refunds;

impl Record for Refunds {
    type Key = Refund;
    type Answer = Answered<RefundResult>;
    type Written = Refund;

    fn id(refund: &Refund) -> &str {
        refund.id.as_str()
    }

    async fn write(
        state: &AppState,
        refund: &Refund,
        answer: &Self::Answer,
    ) -> Result<Refund, StoreError> {
        state
            .store
            .finish_refund(
                &refund.partner_id,
                &refund.id,
                &answer.result,
                answer.reference.as_deref(),
                state.clock.now(),
            )
            .await
    }

    fn count(state: &AppState, _answer: &Self::Answer, written: &Refund) {
        state.metrics.refund(written);
    }

    async fn abandoned(
        state: &AppState,
        started_before: OffsetDateTime,
    ) -> Result<Vec<Refund>, StoreError> {
        state.store.abandoned_refunds(started_before).await
    }

    /// One the processor made succeeded; one it refused failed; one it never received is sent
    /// again (refunds are once per refund id), and one it cannot be asked about stays pending.
    async fn look_up(state: &AppState, refund: &Refund) -> Option<Self::Answer> {
        let looked_up = async {
            let payment = state
                .store
                .payment(&refund.partner_id, &refund.payment_id)
                .await
                .map_err(|e| ProcessorError::Unknown(format!("the payment cannot be read: {e}")))?
                .ok_or_else(|| ProcessorError::Unknown("the payment is gone".into()))?;
            let processor = state
                .processor_for(&refund.partner_id, refund.processor.connector)
                .await?;
            let request = refund_request(refund, &payment);
            match processor.lookup_refund(request).await? {
                Some(decided) => Ok(decided),
                None => processor.refund(request).await,
            }
        };
        match looked_up.await {
            Ok(decided) => Some(refund_answer(decided)),
            Err(e) => {
                tracing::warn!(refund = %refund.id, error = %e, "cannot learn or send an abandoned refund; will retry");
                None
            }
        }
    }
}

/// What a processor is told about a refund of `payment`.
pub(crate) fn refund_request<'a>(refund: &'a Refund, payment: &'a Payment) -> RefundRequest<'a> {
    RefundRequest {
        payment: Captured {
            payment_id: &payment.id,
            reference: payment.processor.reference.as_deref(),
            method: &payment.payment_method,
            holder_name: None,
        },
        refund_id: &refund.id,
        amount: refund.amount,
    }
}

/// The answer to a refund, as recorded; None while it is unknown.
pub(crate) fn refunded_answer(
    refund: &Refund,
    refunded: Result<RefundOutcome, ProcessorError>,
) -> Option<Answered<RefundResult>> {
    match refunded {
        Ok(decided) => Some(refund_answer(decided)),
        Err(ProcessorError::NotSent(why)) => {
            tracing::warn!(refund = %refund.id, error = %why, "processor not reached; the refund failed");
            Some(Answered::unreached(RefundResult::Failed {
                code: UNREACHED,
                reason: None,
            }))
        }
        Err(ProcessorError::Unknown(why)) => {
            tracing::warn!(refund = %refund.id, error = %why, "the processor's answer to a refund is unknown; it stays pending until recovery asks");
            None
        }
    }
}

fn refund_answer(decided: RefundOutcome) -> Answered<RefundResult> {
    match decided {
        RefundOutcome::Succeeded { reference } => Answered {
            result: RefundResult::Succeeded,
            reference,
        },
        RefundOutcome::Refused { reason } => {
            tracing::warn!(reason = %reason, "processor refused a refund");
            Answered::unreached(RefundResult::Failed {
                code: UNREACHED,
                reason: Some(reason),
            })
        }
    }
}
