//! Paying a payment request: claim it, ask the processor, record the answer. The hosted page and
//! any future API path go through this one function, so the rules hold the same everywhere.

use kassa_core::ach::{AccountNumber, AccountType, RoutingNumber};
use kassa_core::card::{CardNumber, Cvc, Expiry};
use kassa_core::id::{PartnerId, PaymentId, PaymentMethodId, PaymentRequestId, VaultEntryId};
use kassa_core::payment::DeclineCode;
use kassa_core::payment_request::PaymentRequest;
use kassa_processor::{ChargeOutcome, ChargeRequest, Instrument};
use kassa_store::{
    AttemptResult, BeginOutcome, FinishedAttempt, MethodDetails, MethodOwner, NewAttempt,
    NewPaymentMethod, Partner, StoreError,
};

use crate::metrics::Attempt;
use crate::state::AppState;

/// A payer's instrument, parsed and valid.
#[derive(Debug)]
pub enum PayInput {
    Card {
        holder_name: String,
        number: CardNumber,
        expiry: Expiry,
        cvc: Cvc,
        postal_code: String,
    },
    Ach {
        holder_name: String,
        routing_number: RoutingNumber,
        account_number: AccountNumber,
        account_type: AccountType,
    },
}

#[derive(Debug)]
pub enum PayOutcome {
    /// Card approved: the request is completed.
    Completed,
    /// ACH debit submitted: the request is processing.
    Processing,
    /// Refused; the request is open again for another try.
    Declined(PaymentRequest, DeclineCode),
    AlreadyCompleted(PaymentRequest),
    InProgress(PaymentRequest),
    NotOpen(PaymentRequest),
    TooManyAttempts,
    NotFound,
}

/// Pays a request. The work runs in its own task, so a payer who disconnects (which drops this
/// future) cannot cut an attempt between the processor's answer and its record.
pub async fn pay(
    state: &AppState,
    partner: &Partner,
    request: &PaymentRequestId,
    input: PayInput,
) -> anyhow::Result<PayOutcome> {
    let (state, partner, request) = (state.clone(), partner.clone(), request.clone());
    tokio::spawn(async move { pay_detached(&state, &partner, &request, &input).await }).await?
}

async fn pay_detached(
    state: &AppState,
    partner: &Partner,
    request: &PaymentRequestId,
    input: &PayInput,
) -> anyhow::Result<PayOutcome> {
    let attempt = new_attempt(state, partner, input);
    let payment_id = attempt.payment_id.clone();
    let begun = state
        .store
        .begin_attempt(&partner.id, request, &attempt, state.clock.now())
        .await?;
    if !matches!(begun, BeginOutcome::Started { .. }) {
        state.metrics.attempt(Attempt::Refused);
    }
    let pr = match begun {
        BeginOutcome::Started { request, .. } => request,
        BeginOutcome::NotFound => return Ok(PayOutcome::NotFound),
        BeginOutcome::AlreadyCompleted(pr) => return Ok(PayOutcome::AlreadyCompleted(pr)),
        BeginOutcome::InProgress(pr) => return Ok(PayOutcome::InProgress(pr)),
        BeginOutcome::NotOpen(pr) => return Ok(PayOutcome::NotOpen(pr)),
        BeginOutcome::TooManyAttempts(_) => return Ok(PayOutcome::TooManyAttempts),
    };
    let instrument = match input {
        PayInput::Card {
            number,
            expiry,
            cvc,
            postal_code,
            ..
        } => Instrument::Card {
            number,
            expiry: *expiry,
            cvc: Some(cvc),
            postal_code: Some(postal_code),
        },
        PayInput::Ach {
            routing_number,
            account_number,
            account_type,
            ..
        } => Instrument::Ach {
            routing_number,
            account_number,
            account_type: *account_type,
        },
    };
    let charged = tokio::time::timeout(
        crate::payment::PROCESSOR_TIMEOUT,
        state.processor.charge(ChargeRequest {
            payment_id: &payment_id,
            amount: pr.amount,
            instrument,
        }),
    )
    .await;
    let result = match charged {
        // Still undecided: the request stays held until recovery asks the processor.
        Err(_) => {
            tracing::warn!(payment = %payment_id, "processor did not answer in time");
            return Ok(PayOutcome::InProgress(pr));
        }
        Ok(Ok(outcome)) => attempt_result(state, outcome),
        Ok(Err(e)) => {
            // The processor was not reached: nothing was charged, and the payer may try again.
            tracing::warn!(payment = %payment_id, error = %e, "processor unavailable");
            AttemptResult::Declined {
                code: DeclineCode::ProcessingError,
            }
        }
    };
    let finished = match record(state, &partner.id, &payment_id, &result).await {
        Ok(finished) => finished,
        // Recovery recorded the same answer first; the payer sees the request as it now is.
        Err(e) if recorded_already(&e) => {
            let now = state.clock.now();
            return Ok(
                match state.store.payment_request(&partner.id, request).await? {
                    Some(pr) => PayOutcome::InProgress(pr.seen_at(now)),
                    None => PayOutcome::NotFound,
                },
            );
        }
        Err(e) => return Err(e),
    };
    Ok(match result {
        AttemptResult::Approved { .. } => PayOutcome::Completed,
        AttemptResult::Declined { code } => PayOutcome::Declined(
            finished
                .request
                .ok_or_else(|| anyhow::anyhow!("a request's attempt finished without it"))?,
            code,
        ),
        AttemptResult::AchSubmitted { .. } => PayOutcome::Processing,
    })
}

/// How a processor's answer is recorded; a sandbox ACH debit is scheduled to settle.
pub(crate) fn attempt_result(state: &AppState, outcome: ChargeOutcome) -> AttemptResult {
    match outcome {
        ChargeOutcome::Approved { funding } => AttemptResult::Approved { funding },
        ChargeOutcome::Declined { code } => AttemptResult::Declined { code },
        ChargeOutcome::AchSubmitted { expected } => AttemptResult::AchSubmitted {
            settle: expected.map(|r| (r, state.clock.now() + state.config.ach_settlement_delay())),
        },
    }
}

/// Records the processor's answer. The money has moved by now, so a failing database is retried
/// a few times before giving up; an attempt left unrecorded is recovered by [`recover_abandoned`].
pub(crate) async fn record(
    state: &AppState,
    partner: &PartnerId,
    payment: &PaymentId,
    result: &AttemptResult,
) -> anyhow::Result<FinishedAttempt> {
    let finished = retrying_database(payment.as_str(), || {
        state
            .store
            .finish_attempt(partner, payment, result, state.clock.now())
    })
    .await?;
    state.metrics.attempt(match result {
        AttemptResult::Approved { .. } => Attempt::Approved,
        AttemptResult::Declined { .. } => Attempt::Declined,
        AttemptResult::AchSubmitted { .. } => Attempt::AchSubmitted,
    });
    Ok(finished)
}

/// Whether recording failed because the answer was recorded already (by recovery, racing a
/// call that outlived its window): that record stands.
pub(crate) fn recorded_already(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<StoreError>(),
        Some(StoreError::Inconsistent(_))
    )
}

/// Runs a store call that records money already moved, retrying while the database fails
/// (100 ms, 300 ms, 900 ms, 2.7 s); other errors are final.
pub(crate) async fn retrying_database<T, F, Fut>(what: &str, mut call: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut delay = std::time::Duration::from_millis(100);
    let mut tries = 0;
    loop {
        match call().await {
            Err(e @ (StoreError::Database(_) | StoreError::NotCommitted(_))) if tries < 4 => {
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

/// Settles attempts whose answer was never recorded (the process died mid-call, or the database
/// failed every retry): the processor is asked what it decided for that payment id, and that
/// is recorded; an attempt it never received was not charged and fails.
pub async fn recover_abandoned(
    state: &AppState,
    started_before: time::OffsetDateTime,
) -> anyhow::Result<usize> {
    let abandoned = state.store.abandoned_attempts(started_before).await?;
    let mut recovered = 0;
    for (partner, payment) in abandoned {
        let result = match state.processor.lookup(&payment).await {
            Ok(Some(outcome)) => attempt_result(state, outcome),
            Ok(None) => AttemptResult::Declined {
                code: DeclineCode::ProcessingError,
            },
            Err(e) => {
                // Unknown: keep the request locked rather than risk a second charge.
                tracing::warn!(payment = %payment, error = %e, "cannot ask the processor about an abandoned attempt");
                continue;
            }
        };
        match state
            .store
            .finish_attempt(&partner, &payment, &result, state.clock.now())
            .await
        {
            Ok(_) => recovered += 1,
            // Recorded meanwhile by its own request.
            Err(StoreError::Inconsistent(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(recovered)
}

/// The attempt's records: the number goes into the vault sealed; outside it only the brand,
/// last 4 and a keyed fingerprint. The CVC is never stored.
fn new_attempt(state: &AppState, partner: &Partner, input: &PayInput) -> NewAttempt {
    let vault_id = VaultEntryId::generate();
    let method = match input {
        PayInput::Card {
            holder_name,
            number,
            expiry,
            postal_code,
            ..
        } => NewPaymentMethod {
            id: PaymentMethodId::generate(),
            holder_name: Some(holder_name.clone()),
            owner: MethodOwner::default(),
            last4: number.last4().to_string(),
            fingerprint: state
                .vault
                .fingerprint(&partner.id, "card", number.expose()),
            details: MethodDetails::Card {
                brand: number.brand(),
                exp_month: i32::from(expiry.month),
                exp_year: expiry.year,
                postal_code: Some(postal_code.clone()),
            },
            vault: state
                .vault
                .seal(&partner.id, vault_id, number.expose().as_bytes()),
        },
        PayInput::Ach {
            holder_name,
            routing_number,
            account_number,
            account_type,
        } => NewPaymentMethod {
            id: PaymentMethodId::generate(),
            holder_name: Some(holder_name.clone()),
            owner: MethodOwner::default(),
            last4: account_number.last4().to_string(),
            fingerprint: state.vault.fingerprint(
                &partner.id,
                "ach",
                &format!("{}/{}", routing_number.as_str(), account_number.expose()),
            ),
            details: MethodDetails::Ach {
                routing_number: routing_number.as_str().to_string(),
                account_type: *account_type,
            },
            vault: state
                .vault
                .seal(&partner.id, vault_id, account_number.expose().as_bytes()),
        },
    };
    NewAttempt {
        payment_id: PaymentId::generate(),
        method,
    }
}
