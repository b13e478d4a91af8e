//! Paying a payment request: claim it, ask the processor, record the answer. The hosted page and
//! any future API path go through this one function, so the rules hold the same everywhere.

use kassa_core::ach::{AccountNumber, AccountType, RoutingNumber};
use kassa_core::card::{CardNumber, Cvc, Expiry};
use kassa_core::id::{PaymentId, PaymentMethodId, PaymentRequestId, VaultEntryId};
use kassa_core::payment::DeclineCode;
use kassa_core::payment_request::PaymentRequest;
use kassa_processor::{ChargeOutcome, ChargeRequest, Instrument};
use kassa_store::{
    AttemptResult, BeginOutcome, MethodDetails, NewAttempt, NewPaymentMethod, Partner,
};

use crate::app::AppState;
use crate::metrics::Attempt;

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

pub async fn pay(
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
    let charged = state
        .processor
        .charge(ChargeRequest {
            payment_id: &payment_id,
            amount: pr.amount,
            instrument,
        })
        .await;
    let result = match charged {
        Ok(ChargeOutcome::Approved { funding }) => AttemptResult::Approved { funding },
        Ok(ChargeOutcome::Declined { code }) => AttemptResult::Declined { code },
        Ok(ChargeOutcome::AchSubmitted { expected }) => {
            let delay = time::Duration::try_from(state.config.sandbox.ach_settlement_delay)
                .unwrap_or(time::Duration::minutes(5));
            AttemptResult::AchSubmitted {
                settle: expected.map(|r| (r, state.clock.now() + delay)),
            }
        }
        Err(e) => {
            // Nothing was charged: the attempt fails and the payer may try again.
            tracing::warn!(payment = %payment_id, error = %e, "processor unavailable");
            AttemptResult::Declined {
                code: DeclineCode::ProcessingError,
            }
        }
    };
    let finished = state
        .store
        .finish_attempt(&partner.id, &payment_id, &result, state.clock.now())
        .await?;
    Ok(match result {
        AttemptResult::Approved { .. } => {
            state.metrics.attempt(Attempt::Approved);
            PayOutcome::Completed
        }
        AttemptResult::Declined { code } => {
            state.metrics.attempt(Attempt::Declined);
            PayOutcome::Declined(finished.request, code)
        }
        AttemptResult::AchSubmitted { .. } => {
            state.metrics.attempt(Attempt::AchSubmitted);
            PayOutcome::Processing
        }
    })
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
